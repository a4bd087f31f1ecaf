"""A coach edits or deletes a message: the session's stored history follows.

Slack sends ``message_changed`` (the new message, with the original ``ts``) and
``message_deleted`` (``deleted_ts`` and the previous message). A thread whose parent is deleted
while it has replies gets a ``message_changed`` to a ``tombstone`` instead, which is a deletion
too. Only the session's coach's own messages change (``storage.message_edits`` matches the
author against the session's coach); the bot's own edits (every streamed reply is a series of
them) are dropped before any database work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.conversation.slack_events import strip_leading_mention
from bot.operations.logs import safe_error
from storage.message_edits import CoachMessageRef, MessageEditStore

logger = logging.getLogger(__name__)

EDIT_SUBTYPES = frozenset({"message_changed", "message_deleted"})
_CHANNEL_TYPES = frozenset({"channel", "group"})


def is_edit_or_deletion(body: Mapping[str, Any]) -> bool:
    """An Events API body carrying a ``message_changed`` or ``message_deleted`` event."""
    event = body.get("event")
    return (
        isinstance(event, Mapping)
        and event.get("type") == "message"
        and event.get("subtype") in EDIT_SUBTYPES
    )


def _by_a_person(message: Any) -> bool:
    return isinstance(message, Mapping) and bool(message.get("user")) and not message.get("bot_id")


def _ref(
    event: Mapping[str, Any], message: Mapping[str, Any], body: Mapping[str, Any], context: Any
) -> CoachMessageRef:
    ts = str(message.get("ts") or event.get("deleted_ts") or "")
    return CoachMessageRef(
        team_id=context.get("team_id") or body.get("team_id") or "",
        channel_id=str(event.get("channel") or ""),
        thread_ts=str(message.get("thread_ts") or ts),  # a top-level message is its session's thread
        slack_ts=ts,
        user_id=str(message.get("user")),
    )


def edited_message(
    event: Mapping[str, Any], body: Mapping[str, Any], context: Any
) -> tuple[CoachMessageRef, str | None] | None:
    """(which message, its new text; None for a tombstone) of a person's edit; None for anything else."""
    message = event.get("message")
    if not isinstance(message, Mapping):
        return None
    if message.get("subtype") == "tombstone":
        previous = event.get("previous_message")
        return (_ref(event, previous, body, context), None) if _by_a_person(previous) else None
    if not _by_a_person(message):
        return None
    previous = event.get("previous_message")
    text = str(message.get("text") or "")
    if isinstance(previous, Mapping) and previous.get("text") == text:
        return None  # an unfurl or a file change, not a new text
    if event.get("channel_type") in _CHANNEL_TYPES:
        text = strip_leading_mention(text)  # stored the way the turn stored it
    return _ref(event, message, body, context), text


def deleted_message(
    event: Mapping[str, Any], body: Mapping[str, Any], context: Any
) -> CoachMessageRef | None:
    """Which message a person's deletion removed; None for a bot's message or a bare event."""
    previous = event.get("previous_message")
    if not _by_a_person(previous) or not event.get("deleted_ts"):
        return None
    return _ref(event, previous, body, context)


class MessageEditService:
    """Applies edits and deletions; failures are logged, never shown (nothing was asked of the bot)."""

    def __init__(self, store: MessageEditStore) -> None:
        self.store = store

    async def apply_edit(self, ref: CoachMessageRef, text: str | None) -> bool:
        """The stored message gets ``text``; ``None`` removes it. True when a stored message changed."""
        what = "edit" if text is not None else "deletion"
        try:
            changed = await (
                self.store.update_text(ref, text) if text is not None else self.store.delete(ref)
            )
        except Exception as error:  # the edit is lost; the coach's conversation goes on
            logger.error(
                "Could not apply a message %s (channel=%s): %s", what, ref.channel_id, safe_error(error)
            )
            return False
        logger.info(
            "Message %s %s in %s: %s",
            what,
            ref.slack_ts,
            ref.channel_id,
            "applied" if changed else "not a stored message of the session's coach",
        )
        return changed

    async def apply_deletion(self, ref: CoachMessageRef) -> bool:
        return await self.apply_edit(ref, None)

    async def close(self) -> None:
        await self.store.close()
