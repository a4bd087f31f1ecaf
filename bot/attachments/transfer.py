"""One shared file from Slack into the file store, and its row's outcome: stored, rejected or failed.

Nothing half-stored is left: a failed transfer leaves no object, a stored object without a
stored row is removed, and a stored file is handed to the reader to index.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.attachments.intake_results import Error, chain_names, classify_failure
from bot.delivery.conversation import SlackConversation
from storage.attachments import AttachmentRecord, AttachmentStore
from storage.files import AttachmentTooLarge, FileStore, object_key

logger = logging.getLogger(__name__)


class AttachmentIndexer(Protocol):
    """The reading hook (bot.attachments.reading): extract, chunk and index a stored file."""

    async def index_attachment(
        self,
        *,
        attachment_id: int,
        session_id: int,
        name: str,
        mime_type: str,
        store: FileStore,
        key: str,
    ) -> Any: ...


class AttachmentTransfer:
    """Streams a pending row's file into the store and records what became of it."""

    def __init__(
        self,
        *,
        store: AttachmentStore,
        files: FileStore,
        max_bytes: int,
        on_change: Callable[[int], None],
        reader: AttachmentIndexer | None = None,
    ) -> None:
        self._store = store
        self.files = files
        self.max_bytes = max_bytes
        # Told the session id whenever a row of it changes (the `files` listing forgets it).
        self._changed = on_change
        self.reader = reader

    async def transfer(
        self, row: AttachmentRecord, url: str, conversation: SlackConversation
    ) -> tuple[str | None, AttachmentRecord | None]:
        """Stream one pending file into the store and record the outcome.

        (None, the stored row) on success; otherwise (error code, None), with the row already
        marked rejected or failed and no object left in the store.
        """
        key = object_key(row.team_id, row.session_id, row.id, row.name)
        try:
            chunks = conversation.download(url, max_bytes=self.max_bytes)
            # Slack's own size for the file: a large one goes multipart from its first part instead
            # of s3transfer buffering a whole threshold (50 MB) first to learn that it is large.
            stored = await self.files.put_stream(
                key, chunks, content_type=row.mime_type, max_bytes=self.max_bytes, size_hint=row.size
            )
        except Exception as error:
            code, final = classify_failure(error)
            logger.warning(
                "Attachment %s not stored (session=%s, error=%s)", row.id, row.session_id, chain_names(error)
            )
            size = error.seen if isinstance(error, AttachmentTooLarge) else None
            await self.finish(row, code, final=final, size=size)
            return code, None
        if stored.size == 0:  # Slack's metadata said otherwise, but nothing came
            await self.discard(key)
            await self.finish(row, Error.EMPTY, final=True, size=0)
            return Error.EMPTY, None
        try:
            recorded = await self._store.mark_stored(
                row.id, size=stored.size, sha256=stored.sha256, storage_key=stored.key
            )
        except Exception:  # the row stays pending; the retry job takes it up once it is stale
            logger.exception("Could not record a stored attachment (attachment=%s)", row.id)
            await self.discard(key)  # no object without a stored row
            return Error.NOT_RECORDED, None
        except BaseException:
            await self.discard(key)
            raise
        if not recorded:  # the session was deleted meanwhile, or another worker finished the row
            await self.discard(key)
            return Error.SESSION_GONE, None
        self._changed(row.session_id)
        logger.info("Attachment %s stored (session=%s, bytes=%s)", row.id, row.session_id, stored.size)
        await self.index(row, stored.key)
        return None, dataclasses.replace(
            row, status="stored", size=stored.size, sha256=stored.sha256, storage_key=stored.key, error=None
        )

    async def finish(self, row: AttachmentRecord, code: str, *, final: bool, size: int | None = None) -> None:
        try:
            if final:
                await self._store.mark_rejected(row.id, code, size=size)
            else:
                await self._store.mark_failed(row.id, code)
        except Exception:  # the row stays pending; the retry job picks it up when it goes stale
            logger.exception("Could not record an attachment's failure (attachment=%s)", row.id)
        self._changed(row.session_id)

    async def discard(self, key: str) -> None:
        try:
            await self.files.delete(key)
        except Exception as error:
            logger.warning("Could not remove an unrecorded attachment object: %s", type(error).__name__)

    async def index(self, row: AttachmentRecord, key: str) -> None:
        """The reading hook; a failure there leaves the file stored (and listed) all the same."""
        if self.reader is None:
            return
        try:
            await self.reader.index_attachment(
                attachment_id=row.id,
                session_id=row.session_id,
                name=row.name,
                mime_type=row.mime_type,
                store=self.files,
                key=key,
            )
        except Exception:
            logger.exception("Indexing attachment %s failed (session=%s)", row.id, row.session_id)
