"""A scripted coach for ``coachbot try`` without a key: short, coach-like replies from the fake model.

Not a model: it picks an opening that fits the coach's first words and then walks a simple
coaching arc (goal, reality, options, next step), quoting the coach so the history visibly
counts. Replies are markdown, as a real model's are, so the page's rendering is exercised.
"""

from __future__ import annotations

from typing import Any

_OPENINGS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("feedback", "critical", "tell them", "conversation", "1:1", "one-on-one"),
        "A hard conversation is worth preparing for — you're already doing that by bringing it here.",
    ),
    (
        ("goal", "quarter", "okr", "measurable", "objective"),
        "Let's make that goal concrete enough to act on.",
    ),
    (("week", "reflect", "went well"), "Good moment to pause and look back."),
    (("stuck", "overwhelm", "busy", "stress", "burn"), "That sounds like a lot to carry right now."),
)

_ARC: tuple[str, ...] = (
    "**What would a good outcome look like for you?** Picture the moment right after it went well: "
    "what is different?",
    "Thanks — that helps. **What is true today?** What have you already tried, and what happened?",
    "Let's widen the options before picking one:\n\n"
    "- What would you do if you were sure it would work?\n"
    "- What would someone you admire do here?\n"
    "- What is the smallest version you could try this week?",
    "**What is one small step you will take, and by when?** I'll ask how it went next time.",
)


def scripted_coach_reply(request: dict[str, Any]) -> str:
    """The next reply for a Chat Completions request: an opening on the first turn, then the arc."""
    said = [_text_of(m.get("content")) for m in request.get("messages", []) if m.get("role") == "user"]
    if not said:
        return "Hi — I'm coachbot, a practice coach. What's on your mind?"
    latest = said[-1].strip()
    turn = len(said) - 1
    if turn == 0:
        opening = next(
            (line for words, line in _OPENINGS if any(w in latest.lower() for w in words)),
            "Thanks for bringing this to a coaching session.",
        )
        return f"{opening}\n\n> {_quote(latest)}\n\n{_ARC[0]}"
    step = _ARC[min(turn, len(_ARC) - 1)]
    if turn >= len(_ARC):
        return f"You said: _{_quote(latest)}_ — that sounds like real progress.\n\n{step}"
    return f"You said: _{_quote(latest)}_\n\n{step}"


def _quote(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""
