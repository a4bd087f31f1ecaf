"""Build the model's input from a session's stored history, within a token budget."""

from __future__ import annotations

from collections.abc import Sequence

from storage.conversations import HistoryMessage

DEFAULT_SYSTEM_PROMPT = (
    "You are coachbot, a warm and practical professional coach working inside Slack. "
    "Help the coach think: ask one good question at a time, reflect back what you hear, "
    "and offer concrete next steps when asked. Keep answers short enough to read in a Slack "
    "thread, use Slack-friendly Markdown, and never mention or notify other people."
)

# A message costs its text plus a few tokens of role framing.
_FRAMING_TOKENS = 4
_CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A fast, offline estimate (about four characters a token for English).

    Exact tokenizers need their vocabulary files from the network; the budget
    only has to be roughly right, and this keeps the hot path allocation-free.
    """
    return (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN + _FRAMING_TOKENS


def build_messages(
    history: Sequence[HistoryMessage], *, system_prompt: str, token_budget: int
) -> list[dict[str, str]]:
    """The chat messages for one turn: the system prompt, then as much history as fits.

    The oldest turns go first; the system prompt and the newest message always
    stay (the newest one is cut from the front if it alone is over budget).
    """
    remaining = token_budget - estimate_tokens(system_prompt)
    kept: list[dict[str, str]] = []
    for message in reversed(history):
        if message.role == "system" or not message.text.strip():
            continue
        cost = estimate_tokens(message.text)
        if cost > remaining:
            if not kept:
                room = max(remaining - _FRAMING_TOKENS, 0) * _CHARS_PER_TOKEN
                kept.append({"role": message.role, "content": message.text[-room:] if room else ""})
            break
        kept.append({"role": message.role, "content": message.text})
        remaining -= cost
    kept.reverse()
    return [{"role": "system", "content": system_prompt}, *kept]
