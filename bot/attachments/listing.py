"""Answering `files`: a session's attachments with fresh links, for its coach only.

The rows are cached a minute per session (a change clears them); the text is
``bot.attachments.file_listing``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from bot.attachments.file_listing import format_listing
from bot.conversation.turn_values import CoachMessage, Surface
from bot.delivery.conversation import SlackConversation
from storage.attachments import AttachmentRecord, AttachmentStore
from storage.caches import CountingTTLCache
from storage.conversations import ConversationStore, SessionKey
from storage.files import FileStore

logger = logging.getLogger(__name__)

LISTING_TTL_SECONDS = 60.0
LISTING_MAXSIZE = 2_000
LINK_EXPIRY_SECONDS = 300
NOT_YOUR_FILES_TEXT = "Only the coach who started this session can list its files."
LISTING_FAILED_TEXT = "Sorry, I couldn't look up this session's files just now. Please try again in a minute."


class FileListing:
    """Answers ``files`` from a minute-long cache of each session's rows (a change clears it)."""

    def __init__(
        self,
        *,
        store: AttachmentStore,
        conversations: ConversationStore,
        files: FileStore,
        max_attempts: int,
        cache: CountingTTLCache[int, tuple[AttachmentRecord, ...]] | None = None,
    ) -> None:
        self._store = store
        self._conversations = conversations
        self.files = files
        self._max_attempts = max_attempts
        self.cache: CountingTTLCache[int, tuple[AttachmentRecord, ...]] = (
            cache
            if cache is not None
            else CountingTTLCache(LISTING_MAXSIZE, LISTING_TTL_SECONDS, name="file_listings")
        )

    def forget(self, session_id: int) -> None:
        self.cache.pop(session_id)

    async def show(self, message: CoachMessage, conversation: SlackConversation) -> bool:
        """Answer ``files``: the session's attachments with fresh links, for its coach only.

        In a channel it is an ephemeral message; in a DM or the agent panel the thread itself is
        private, so it is posted there. Someone other than the session's coach gets a short
        ephemeral refusal and no names or links. Returns False (nothing sent) for a channel
        thread the bot is not coaching in, which it stays out of.
        """
        ephemeral = message.surface is Surface.CHANNEL
        try:
            session_id = await self._conversations.find_session_id(
                SessionKey(message.team_id, message.channel_id, message.thread_ts)
            )
            if session_id is None and message.surface is Surface.CHANNEL and not message.starts_session:
                return False
            coach = await self._store.session_coach(session_id) if session_id is not None else None
            if coach is not None and coach != message.user_id:
                logger.info(
                    "Refused a files listing to someone other than the coach (channel=%s)", message.channel_id
                )
                text, links, ephemeral = NOT_YOUR_FILES_TEXT, None, True
            else:
                rows = await self._rows(session_id) if session_id is not None else ()
                links = await self._links(rows, for_user=message.user_id)
                text = format_listing(
                    rows, links, max_attempts=self._max_attempts, link_minutes=LINK_EXPIRY_SECONDS // 60
                )
        except Exception:
            logger.exception("Could not read the files listing (channel=%s)", message.channel_id)
            text = LISTING_FAILED_TEXT
        # Only the asker sees an ephemeral listing (the conversation's user is message.user_id).
        await (conversation.post_ephemeral(text) if ephemeral else conversation.post(text))
        return True

    async def _rows(self, session_id: int) -> tuple[AttachmentRecord, ...]:
        """The session's rows, cached for a minute; storing a file clears the entry."""
        cached = self.cache.get(session_id)
        if cached is not None:
            return cached
        rows = tuple(await self._store.list_for_session(session_id))
        self.cache.set(session_id, rows)
        return rows

    async def _links(self, rows: Sequence[AttachmentRecord], *, for_user: str) -> dict[int, str]:
        return await fresh_links(self.files, rows, for_user=for_user)

    async def signed_links(self, keys: Mapping[int, str], *, for_user: str) -> dict[int, str]:
        """Fresh links to stored files by attachment id (the data export's)."""
        return await signed_links(self.files, keys, for_user=for_user)


async def fresh_links(files: FileStore, rows: Sequence[AttachmentRecord], *, for_user: str) -> dict[int, str]:
    """Fresh links for the rows that are stored (``files`` and the App Home)."""
    keys = {row.id: str(row.storage_key) for row in rows if row.status == "stored" and row.storage_key}
    return await signed_links(files, keys, for_user=for_user)


async def signed_links(files: FileStore, keys: Mapping[int, str], *, for_user: str) -> dict[int, str]:
    """Fresh links to stored files (attachment id -> storage key), made for the coach: never
    cached, each lives ``LINK_EXPIRY_SECONDS``. Shown only to ``for_user``; a local link
    carries that user. The one presigner: ``files``, the App Home and the data export use it."""
    urls = await asyncio.gather(
        *(
            files.download_url(key, expires_in=LINK_EXPIRY_SECONDS, for_user=for_user)
            for key in keys.values()
        ),
        return_exceptions=True,
    )
    links = {}
    for attachment_id, url in zip(keys, urls, strict=True):
        if isinstance(url, BaseException):
            logger.warning("No download link for attachment %s: %s", attachment_id, type(url).__name__)
        else:
            links[attachment_id] = url
    return links
