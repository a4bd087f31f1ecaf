"""The delete modal's views: the confirmation, "deleting…", what was deleted, and a refusal.

Built with slack_sdk's View and Block Kit models, which check Slack's limits as they serialize
(a modal's title, submit and close at most 24 characters).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View

from storage.memory_records import Coach

#: The button (App Home's "Delete my data") and the modal's callback.
DELETE_ACTION = "coach_data_delete"
CONFIRM_VIEW = "coach_data_delete_confirm"

CONFIRM_TEXT = (
    "*This deletes everything I keep about you in this workspace:* every coaching session and "
    "message, the files you shared, your goals, commitments, summaries and what you asked me to "
    "remember, your check-ins and your settings.\n\nIt can't be undone. Your Slack messages stay "
    "in Slack; only my copy goes."
)
WORKING_TEXT = "Deleting your data… this takes a few seconds."
REFUSED_TEXT = "This confirmation was opened for someone else, so nothing was deleted."
FAILED_TEXT = (
    "I couldn't delete your files just now (my file storage didn't answer), so I kept the rest "
    "too, to delete it all together. Please try again in a few minutes."
)
UNFINISHED_TEXT = (
    "I couldn't finish deleting your data just now. Please try `/coach delete` again in a few "
    "minutes: it deletes whatever is left."
)
FRESH_TEXT = "If you message me again, I'll start fresh, as if we'd never met."


def opened_for(coach: Coach) -> str:
    """The modal's ``private_metadata``: whom it was opened for (checked again on submit)."""
    return f"{coach.team_id}:{coach.user_id}"


def confirm_view(coach: Coach) -> dict[str, Any]:
    return _modal(
        [SectionBlock(text=MarkdownTextObject(text=CONFIRM_TEXT))],
        private_metadata=opened_for(coach),
        submit="Delete everything",
        close="Cancel",
    )


def working_view() -> dict[str, Any]:
    return _modal([SectionBlock(text=MarkdownTextObject(text=WORKING_TEXT))], close="Close")


def message_view(text: str, *, note: str | None = None) -> dict[str, Any]:
    """A closing view saying ``text`` (what was deleted, a failure, a refusal)."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=text))]
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return _modal(blocks, close="Close")


def _modal(
    blocks: list[Any], *, private_metadata: str | None = None, submit: str | None = None, close: str
) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=CONFIRM_VIEW if submit else None,  # only the confirmation can be submitted
        title="Delete my data",
        submit=submit,
        close=close,
        blocks=blocks,
        private_metadata=private_metadata,
    )
    return view.to_dict()
