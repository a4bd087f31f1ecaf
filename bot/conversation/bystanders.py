"""Someone other than the coach writes in a session's channel thread: one quiet note, nothing kept.

A session belongs to the coach who started it. Anyone else who writes in its thread is neither
coached nor stored; they get one ephemeral note (only they see it) per session, remembered in
the database so another replica or a restart does not repeat it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.delivery.conversation import SlackConversation
from storage.turn_leases import TurnLeaseStore

logger = logging.getLogger(__name__)

BYSTANDER_TEXT = (
    "This thread is someone else's coaching session, so I won't answer or keep what you write here. "
    "Mention me in a new message, or send me a direct message, to start your own."
)


class ThreadMessage(Protocol):
    channel_id: str
    thread_ts: str
    user_id: str


async def tell_bystander_once(
    conversation: SlackConversation, store: TurnLeaseStore, message: ThreadMessage, session_id: int
) -> bool:
    """Post the note to ``message.user_id`` unless they were told in this session before."""
    try:
        if not await store.note_bystander(session_id, message.user_id):
            return False
    except Exception as error:  # not worth a word to anyone: stay quiet rather than repeat
        logger.warning(
            "Could not record a bystander note (session=%s, error=%s)", session_id, type(error).__name__
        )
        return False
    await conversation.post_ephemeral(BYSTANDER_TEXT)  # the conversation's user is the bystander
    return True
