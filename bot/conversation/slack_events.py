"""Turn Slack event payloads into ``CoachMessage`` values, and decide what to ignore."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.conversation.turn_values import CoachMessage, Surface

_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*")


# Message subtypes a person writes; the rest (edits, deletions, joins, bot posts…) start no turn.
_PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


def is_from_a_person(event: Mapping[str, Any]) -> bool:
    """Bots (ours included), edits, deletions and channel notices never start a coaching turn."""
    if event.get("bot_id") or event.get("subtype") not in _PERSON_SUBTYPES:
        return False
    return bool(event.get("user"))


def mentions_user(text: str, user_id: str | None) -> bool:
    return bool(user_id) and f"<@{user_id}" in text


def strip_leading_mention(text: str) -> str:
    """``<@U0BOT> how do I…`` → ``how do I…``; mentions later in the text stay."""
    return _LEADING_MENTION.sub("", text, count=1).strip()


def coach_message(
    event: Mapping[str, Any],
    *,
    body: Mapping[str, Any],
    context: Mapping[str, Any],
    surface: Surface,
    starts_session: bool,
) -> CoachMessage:
    """The coach's message as the coaching service wants it.

    The session's thread is the message's thread, or the message itself when
    it is top-level (its reply then opens the thread).
    """
    text = event.get("text") or ""
    if surface is Surface.CHANNEL:
        text = strip_leading_mention(text)
    return CoachMessage(
        team_id=context.get("team_id") or body.get("team_id") or event.get("team") or "",
        channel_id=event["channel"],
        thread_ts=event.get("thread_ts") or event["ts"],
        ts=event["ts"],
        user_id=event["user"],
        text=text,
        surface=surface,
        starts_session=starts_session,
        event_id=body.get("event_id"),
        received_at=context.get("received_at"),  # set by the HTTP route or, failing that, bot.assembly.app
        files=_shared_files(event),
    )


def _shared_files(event: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The Slack file objects a coach shared with the message (file_share, or a mention with files)."""
    files = event.get("files")
    if not files or not isinstance(files, list):
        return ()
    return tuple(file for file in files if isinstance(file, dict) and file.get("id"))
