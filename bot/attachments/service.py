"""Attachment intake: files a coach shares in a session, streamed from Slack into the file store.

Per file: Slack's metadata is checked first (empty, too large, a type the coach cannot read,
not downloadable), then the bytes stream from ``url_private_download`` straight into the file
store (never whole in memory), then the row is marked stored and the reader indexes the file.
Every way it can go wrong ends in one short reply line for the thread, and nothing half-stored:
the row says ``rejected`` (bad input, final) or ``failed`` (download/upload trouble, retried by
``retry_failed``), and the file store has already removed any partial object.

Files of one message are taken one after the other: a transfer already keeps the link busy
(S3 multipart runs 10 parts at once), and several 1 GB files at once would multiply the memory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.assembly.config import Settings
from bot.attachments.attachment_types import kind_of
from bot.attachments.intake_results import (
    Error,
    IntakeResult,
    bold,
    confirmation_text,
    gave_up_text,
    name_of,
    problem_text,
    problems_text,
    slack_mime,
)
from bot.attachments.listing import FileListing
from bot.attachments.transfer import AttachmentIndexer, AttachmentTransfer
from bot.conversation.turn_values import CoachMessage, Surface
from bot.delivery.conversation import SlackConversation, SlackDelivery
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.delivery.slack_files import SlackDownloadError
from bot.delivery.workspace_clients import WorkspaceClients
from storage.attachments import AttachmentRecord, AttachmentStore, NewAttachment
from storage.caches import CountingTTLCache
from storage.conversations import ConversationStore
from storage.files import FileStore

logger = logging.getLogger(__name__)

__all__ = ["AttachmentService", "IntakeResult", "confirmation_text", "problems_text"]


MB = 1024 * 1024
#: Attempts per file in all (the first included) before the retry job gives up on it.
MAX_ATTEMPTS = 5
RETRY_BATCH = 20
#: Slack modes whose bytes Slack does not hold for us (Google Drive links, deleted files…).
_NOT_DOWNLOADABLE_MODES = frozenset({"external", "tombstone", "hidden_by_limit"})
_FILE_GONE_ERRORS = frozenset({"file_not_found", "file_deleted"})

SAVING_STATUS = "is reading your file…"
SAVING_REACTION = "inbox_tray"
SAVED_REACTION = "white_check_mark"


class AttachmentService:
    """Intake, retries and the ``files`` listing. One per process."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: AttachmentStore,
        files: FileStore,
        conversations: ConversationStore,
        clients: WorkspaceClients,
        delivery: SlackDelivery,
        reader: AttachmentIndexer | None = None,
        listing_cache: CountingTTLCache[int, tuple[AttachmentRecord, ...]] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self.files = files
        # Retries run without a request: they get each workspace's client here, and post through
        # a conversation built like a turn's. Everything else is handed the turn's conversation.
        self._clients = clients
        self._delivery = delivery
        self.max_bytes = settings.max_attachment_mb * MB
        self.listing = FileListing(
            store=store,
            conversations=conversations,
            files=files,
            max_attempts=MAX_ATTEMPTS,
            cache=listing_cache,
        )
        self.listing_cache = self.listing.cache
        self._transfers = AttachmentTransfer(
            store=store, files=files, max_bytes=self.max_bytes, on_change=self.listing.forget, reader=reader
        )

    @property
    def store(self) -> AttachmentStore:
        return self._store

    def set_reader(self, reader: AttachmentIndexer | None) -> None:
        """For assembly code that builds the reader after this service."""
        self._transfers.reader = reader

    # ------------------------------------------------------------------ intake

    async def intake(
        self, message: CoachMessage, session_id: int, conversation: SlackConversation
    ) -> IntakeResult:
        """Take every file of the coach's message into the session; never raises (but cancels)."""
        result = IntakeResult()
        finish_feedback = self._show_saving(message, conversation)
        try:
            for file in message.files:
                await self._take(file, message, session_id, conversation, result)
        finally:
            finish_feedback(bool(result.stored))
        return result

    async def _take(
        self,
        file: Mapping[str, Any],
        message: CoachMessage,
        session_id: int,
        conversation: SlackConversation,
        result: IntakeResult,
    ) -> None:
        meta = await self._complete_metadata(file, conversation)
        name = name_of(meta or file)
        if meta is None:
            result.problems.append(problem_text(Error.UNAVAILABLE, name))
            return
        kind = kind_of(meta)
        size = meta.get("size")
        size = size if isinstance(size, int) and size >= 0 else None
        url = meta.get("url_private_download") or meta.get("url_private")
        rejection = None
        if size == 0:
            rejection = Error.EMPTY
        elif size is not None and size > self.max_bytes:
            rejection = Error.TOO_LARGE
        elif kind is None:
            rejection = Error.UNSUPPORTED
        elif not url or meta.get("mode") in _NOT_DOWNLOADABLE_MODES:
            rejection = Error.UNAVAILABLE
        mime_type = kind.mime_type if kind is not None else slack_mime(meta)
        try:
            row, created = await self._store.create_pending(
                NewAttachment(
                    session_id=session_id,
                    slack_file_id=str(meta["id"]),
                    team_id=message.team_id,
                    user_id=message.user_id,
                    name=name,
                    mime_type=mime_type,
                    size=size,
                )
            )
        except Exception:
            logger.exception("Could not record an attachment (session=%s)", session_id)
            result.problems.append(problem_text(Error.NOT_RECORDED, name))
            return
        if not created:
            await self._take_existing(row, session_id, url, result, conversation)
            return
        self.listing.forget(session_id)
        if rejection is not None:
            await self._transfers.finish(row, rejection, final=True, size=size)
            result.problems.append(
                problem_text(rejection, name, size=size, max_mb=self._settings.max_attachment_mb)
            )
            return
        assert url is not None  # a missing URL is a rejection above
        error, stored_row = await self._transfers.transfer(row, str(url), conversation)
        if stored_row is not None:
            result.stored.append(name)
            result.files.append(stored_row)  # with its storage key: images go to the model
        else:
            assert error is not None
            result.problems.append(problem_text(error, name, max_mb=self._settings.max_attachment_mb))
            if error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED):
                result.retrying += 1

    async def _take_existing(
        self,
        row: AttachmentRecord,
        session_id: int,
        url: Any,
        result: IntakeResult,
        conversation: SlackConversation,
    ) -> None:
        """The Slack file already has a row: the coach shared the same Slack file again.

        (A redelivered event never gets here: the turn's event claim stops it first.) A file that
        failed before is tried again now; the rest are answered from the row.
        """
        max_mb = self._settings.max_attachment_mb
        if row.session_id != session_id:
            result.problems.append(
                f"{bold(row.name)} is already saved in another coaching session, "
                "so I didn't save it again here."
            )
        elif row.status == "stored":
            result.stored.append(row.name)
            result.files.append(row)
        elif row.status == "pending":
            result.problems.append(f"I'm still saving {bold(row.name)} from earlier.")
            result.retrying += 1
        elif row.status == "rejected":
            result.problems.append(problem_text(row.error or "", row.name, size=row.size, max_mb=max_mb))
        elif url and await self._store.claim_retry(row.id, attempts=row.attempts):
            error, stored_row = await self._transfers.transfer(row, str(url), conversation)
            if stored_row is not None:
                result.stored.append(row.name)
                result.files.append(stored_row)
            elif error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED) and row.attempts + 1 >= MAX_ATTEMPTS:
                result.problems.append(gave_up_text(row.name))
            else:
                result.problems.append(problem_text(error or "", row.name, max_mb=max_mb))
                result.retrying += error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED)
        else:
            result.problems.append(problem_text(Error.NOT_RECORDED, row.name))

    async def _complete_metadata(
        self, file: Mapping[str, Any], conversation: SlackConversation
    ) -> Mapping[str, Any] | None:
        """The file object, from files.info when the event carried only a stub.

        Slack sends ``{"id": …, "file_access": "check_file_info"}`` for some shares (Slack
        Connect, files from other workspaces); the event's copy is used whenever it is whole.
        """
        if file.get("id") and file.get("name") and file.get("file_access") != "check_file_info":
            return file
        if not file.get("id"):
            return None
        try:
            return await self._file_info(str(file["id"]), conversation)
        except SlackDownloadError:
            return None  # without a name there is no row to retry; the coach is asked to share again

    async def _file_info(self, file_id: str, conversation: SlackConversation) -> Mapping[str, Any] | None:
        """files.info: None when Slack says the file is gone; SlackDownloadError when it failed."""
        try:
            return await conversation.file_info(file_id)
        except SlackApiError as error:
            if error.response.get("error") in _FILE_GONE_ERRORS:
                return None
            raise SlackDownloadError(f"files.info failed: {slack_error_name(error)}") from error
        except SLACK_ERRORS as error:
            raise SlackDownloadError(f"files.info failed: {slack_error_name(error)}") from error

    # ------------------------------------------------------------------ retries

    async def retry_failed(self, limit: int = RETRY_BATCH) -> int:
        """Try failed downloads/uploads again and tell each thread how it went; returns successes.

        For the periodic job. Safe on several replicas at once: each row is claimed first.
        """
        candidates = await self._store.failed_for_retry(limit, MAX_ATTEMPTS)
        succeeded = 0
        for candidate in candidates:
            row = candidate.attachment
            if not await self._store.claim_retry(row.id, attempts=row.attempts):
                continue
            client = await self._clients.client_for(row.team_id)
            if client is None:  # uninstalled since: the workspace's data goes with it
                continue
            conversation = self._delivery.for_thread(
                client,
                channel_id=candidate.channel_id,
                thread_ts=candidate.thread_ts,
                team_id=row.team_id,
                user_id=row.user_id,
                surface=Surface.CHANNEL if candidate.channel_id.startswith("C") else Surface.DIRECT_MESSAGE,
            )
            text = await self._retry_one(row, row.attempts + 1, conversation)
            if text is None:
                succeeded += 1
                text = f"I've now saved {bold(row.name)}."
            if text:
                await conversation.post(text)
        if candidates:
            logger.info("Attachment retries: %s of %s stored", succeeded, len(candidates))
        return succeeded

    async def _retry_one(
        self, row: AttachmentRecord, attempt: int, conversation: SlackConversation
    ) -> str | None:
        """One more attempt; None when stored, else what to tell the thread ("" for nothing yet)."""
        try:  # a fresh URL, and whether the file still exists
            meta = await self._file_info(row.slack_file_id, conversation)
        except SlackDownloadError as failure:
            logger.info("Attachment %s retry: %s", row.id, failure)
            await self._transfers.finish(row, Error.DOWNLOAD_FAILED, final=False)
            error: str | None = Error.DOWNLOAD_FAILED
        else:
            url = (meta or {}).get("url_private_download") or (meta or {}).get("url_private")
            if not url or (meta or {}).get("mode") in _NOT_DOWNLOADABLE_MODES:
                await self._transfers.finish(row, Error.UNAVAILABLE, final=True)
                return problem_text(Error.UNAVAILABLE, row.name)
            error, _ = await self._transfers.transfer(row, str(url), conversation)
        if error is None:
            return None
        if error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED):
            if attempt >= MAX_ATTEMPTS:
                return gave_up_text(row.name)
            return ""  # quiet until it works or the attempts run out
        if error == Error.SESSION_GONE:
            return ""
        return problem_text(error, row.name, max_mb=self._settings.max_attachment_mb)

    # ------------------------------------------------------------------ the `files` listing

    async def show_listing(self, message: CoachMessage, conversation: SlackConversation) -> bool:
        """Answer ``files`` in the conversation (bot.attachments.listing); False: not for us."""
        return await self.listing.show(message, conversation)

    # ------------------------------------------------------------------ feedback

    def _show_saving(self, message: CoachMessage, conversation: SlackConversation) -> Any:
        """Optimistic feedback at once, without waiting on Slack; returns the "done" callback.

        The agent panel shows a status ("is reading your file…", replaced by "is thinking…" or
        cleared by the reply); elsewhere the coach's message gets a 📥 reaction while the file
        streams, swapped for ✅ once something is saved.
        """
        if message.surface is Surface.AGENT_PANEL:
            conversation.show_status(SAVING_STATUS)
            return lambda stored: None
        added = conversation.react(SAVING_REACTION, message.ts)

        def done(stored: bool) -> None:
            async def swap() -> None:
                with contextlib.suppress(*SLACK_ERRORS):
                    await added
                await conversation.unreact(SAVING_REACTION, message.ts)
                if stored:
                    await conversation.react(SAVED_REACTION, message.ts)

            conversation.background.spawn(swap())

        return done

    async def close(self) -> None:
        """Let the feedback calls finish (they are short), then release the store's writer."""
        await self._delivery.background.drain(timeout=5)
        await self._store.close()


# ---------------------------------------------------------------------- helpers
