"""Feedback's Block Kit: the buttons under a reply, and the thumbs-down's "what would have helped?".

Built with slack_sdk's Block Kit models (``ContextActionsBlock`` holding ``FeedbackButtonsElement``,
Slack's own feedback buttons), which check Slack's limits as they serialize.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)

from storage.feedback import NOTE_LIMIT
from storage.models import Rating

FEEDBACK_ACTION = "reply_feedback"
NOTE_BLOCK = "feedback_note"
NOTE_INPUT = "feedback_note_text"
NOTE_SEND_ACTION = "feedback_note_send"

_FEEDBACK_ROW = ContextActionsBlock(
    block_id="reply_feedback",
    elements=[
        FeedbackButtonsElement(
            action_id=FEEDBACK_ACTION,
            positive_button=FeedbackButtonObject(
                text="👍", value=Rating.POSITIVE.value, accessibility_label="This reply helped"
            ),
            negative_button=FeedbackButtonObject(
                text="👎", value=Rating.NEGATIVE.value, accessibility_label="This reply did not help"
            ),
        )
    ],
).to_dict()


def feedback_blocks() -> list[dict[str, Any]]:
    """The row under every coaching reply. Its values name only the rating: which reply was
    pressed, and whose it is, come from Slack's payload checked against our tables."""
    return [_FEEDBACK_ROW]


def note_request_blocks(feedback_id: int) -> list[dict[str, Any]]:
    """The ephemeral after a thumbs-down: an optional answer and **Send** (naming the rating row,
    checked again against the coach who sends it)."""
    blocks = [
        SectionBlock(
            text=MarkdownTextObject(
                text="Thanks for telling me. *What would have helped?* (Optional: only you see this; "
                "it is kept with your rating, and `/coach delete` removes it.)"
            )
        ),
        InputBlock(
            block_id=NOTE_BLOCK,
            label=PlainTextObject(text="What would have helped?"),
            optional=True,
            element=PlainTextInputElement(action_id=NOTE_INPUT, multiline=True, max_length=NOTE_LIMIT),
        ),
        ActionsBlock(
            block_id="feedback_note_actions",
            elements=[
                ButtonElement(
                    text="Send", action_id=NOTE_SEND_ACTION, value=str(feedback_id), style="primary"
                )
            ],
        ),
    ]
    return [block.to_dict() for block in blocks]


def typed_note(body: dict[str, Any]) -> str:
    """What the coach typed into the note's input, from the press's ``state.values``."""
    values = ((body.get("state") or {}).get("values") or {}).get(NOTE_BLOCK) or {}
    return str((values.get(NOTE_INPUT) or {}).get("value") or "").strip()
