"""What a check-in says, as Block Kit (slack_sdk.models.blocks): the question, its buttons, the answer.

A commitment's words were extracted by the model from the coach's messages, so they go through
``neutralize_mentions`` like any model output: a check-in never pings anyone. Each button's
``value`` is only a reference (``"<commitment id>:<round>"``); the press is checked against our
tables, never trusted (``bot.checkins.answers``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.conversation.mentions import neutralize_mentions

DONE = "checkin_done"
NOT_YET = "checkin_not_yet"
TALK = "checkin_talk"
ACTIONS = (DONE, NOT_YET, TALK)
ACTIONS_BLOCK_ID = "checkin_answer"
#: Section text holds at most 3,000 characters; a commitment is a sentence, but be safe.
MAX_QUOTE = 2_000


def button_value(commitment_id: int, round_: int) -> str:
    return f"{commitment_id}:{round_}"


def parse_button_value(value: str) -> tuple[int, int] | None:
    """``"12:1"`` -> (12, 1); None for anything else (a forged or stale payload)."""
    head, _, tail = (value or "").partition(":")
    if not (head.isdigit() and tail.isdigit()):
        return None
    return int(head), int(tail)


def quote(words: str) -> str:
    """The coach's words as a Slack quote, unable to mention anyone."""
    safe = neutralize_mentions(words.strip())[:MAX_QUOTE]
    return "\n".join(f">{line}" for line in safe.splitlines() or [""])


def _when(due_date: date | None) -> str:
    return f"You planned to do this by {due_date:%A %d %B}:" if due_date else "A while ago you said you'd:"


def checkin_text(words: str) -> str:
    """The notification's plain text (and what a client without blocks shows)."""
    return f"How did it go? {neutralize_mentions(words.strip())[:MAX_QUOTE]}"


def checkin_blocks(
    *, words: str, due_date: date | None, commitment_id: int, round_: int
) -> list[dict[str, Any]]:
    """The check-in: the commitment in the coach's words, the question, and three buttons."""
    value = button_value(commitment_id, round_)
    blocks = [
        SectionBlock(
            block_id="checkin_question",
            text=MarkdownTextObject(text=f"{_when(due_date)}\n{quote(words)}\n*How did it go?*"),
        ),
        ActionsBlock(
            block_id=ACTIONS_BLOCK_ID,
            elements=[
                ButtonElement(text="Done", action_id=DONE, value=value, style="primary"),
                ButtonElement(text="Not yet", action_id=NOT_YET, value=value),
                ButtonElement(text="Let's talk", action_id=TALK, value=value),
            ],
        ),
        ContextBlock(
            elements=[MarkdownTextObject(text="Rather not get these? `/coach checkins off` stops them.")]
        ),
    ]
    return [block.to_dict() for block in blocks]


def answered_blocks(*, words: str, outcome: str) -> list[dict[str, Any]]:
    """The check-in once answered: the commitment, and what the answer did (no buttons left)."""
    blocks = [
        SectionBlock(block_id="checkin_question", text=MarkdownTextObject(text=quote(words))),
        ContextBlock(elements=[MarkdownTextObject(text=outcome)]),
    ]
    return [block.to_dict() for block in blocks]


def talk_opening(words: str) -> str:
    """The first message of a "Let's talk" session: what the coach committed to, and a question."""
    return (
        "Let's talk it through. You committed to:\n"
        f"{quote(words)}\n"
        "What has happened so far, and what is getting in the way?"
    )
