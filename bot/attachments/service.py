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

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.assembly.config import Settings
from bot.attachments.attachment_types import SUPPORTED_LABELS, human_size, kind_of
from bot.attachments.file_listing import format_listing, mrkdwn_escape
from bot.conversation.turn_values import CoachMessage, Surface
from bot.delivery.conversation import SlackConversation, SlackDelivery
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.delivery.slack_files import SlackDownloadError, SlackFileIsLoginPage
from bot.delivery.workspace_clients import WorkspaceClients
from storage.attachments import AttachmentRecord, AttachmentStore, NewAttachment
from storage.caches import CountingTTLCache
from storage.conversations import ConversationStore, SessionKey
from storage.files import AttachmentTooLarge, FileStore, object_key

logger = logging.getLogger(__name__)

MB = 1024 * 1024
#: Attempts per file in all (the first included) before the retry job gives up on it.
MAX_ATTEMPTS = 5
RETRY_BATCH = 20
LISTING_TTL_SECONDS = 60.0
LISTING_MAXSIZE = 2_000
LINK_EXPIRY_SECONDS = 300
#: Slack modes whose bytes Slack does not hold for us (Google Drive links, deleted files…).
_NOT_DOWNLOADABLE_MODES = frozenset({"external", "tombstone", "hidden_by_limit"})
_FILE_GONE_ERRORS = frozenset({"file_not_found", "file_deleted"})

NOT_YOUR_FILES_TEXT = "Only the coach who started this session can list its files."
LISTING_FAILED_TEXT = "Sorry, I couldn't look up this session's files just now. Please try again in a minute."
SAVING_STATUS = "is reading your file…"
SAVING_REACTION = "inbox_tray"
SAVED_REACTION = "white_check_mark"


class Error:
    """The short codes kept in ``attachments.error``."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    LOGIN_PAGE = "login_page"
    UNAVAILABLE = "unavailable"
    DOWNLOAD_FAILED = "download_failed"
    UPLOAD_FAILED = "upload_failed"
    SESSION_GONE = "session_gone"
    NOT_RECORDED = "not_recorded"  # the database failed before a row existed (never stored)


_RETRY_PROMISE = "I'll try again in a few minutes and tell you here."


class AttachmentReader(Protocol):
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


@dataclass
class IntakeResult:
    """What became of a message's files, for the replies."""

    stored: list[str] = field(default_factory=list)  # names
    problems: list[str] = field(default_factory=list)  # one human line per file that wasn't stored
    retrying: int = 0  # of the problems, how many the retry job will try again
    files: list[AttachmentRecord] = field(default_factory=list)  # the stored rows: images go to the model

    @property
    def all_rejected(self) -> bool:
        """Nothing stored and nothing coming: the message brought nothing to read."""
        return not self.stored and not self.retrying


def confirmation_text(result: IntakeResult) -> str:
    """The reply to files shared without a word: what was saved, and what wasn't."""
    lines = []
    if result.stored:
        lines.append(
            f"Got it: I've saved {_names(result.stored)}. Tell me what you'd like to work on with it."
        )
    lines.extend(result.problems)
    return "\n".join(lines)


def problems_text(result: IntakeResult) -> str:
    return "\n".join(result.problems)


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
        reader: AttachmentReader | None = None,
        listing_cache: CountingTTLCache[int, tuple[AttachmentRecord, ...]] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self.files = files
        self._conversations = conversations
        # Retries run without a request: they get each workspace's client here, and post through
        # a conversation built like a turn's. Everything else is handed the turn's conversation.
        self._clients = clients
        self._delivery = delivery
        self._reader = reader
        self.max_bytes = settings.max_attachment_mb * MB
        self.listing_cache: CountingTTLCache[int, tuple[AttachmentRecord, ...]] = (
            listing_cache
            if listing_cache is not None
            else CountingTTLCache(LISTING_MAXSIZE, LISTING_TTL_SECONDS, name="file_listings")
        )

    @property
    def store(self) -> AttachmentStore:
        return self._store

    def set_reader(self, reader: AttachmentReader | None) -> None:
        """For assembly code that builds the reader after this service."""
        self._reader = reader

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
        name = _name_of(meta or file)
        if meta is None:
            result.problems.append(_problem_text(Error.UNAVAILABLE, name))
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
        mime_type = kind.mime_type if kind is not None else _slack_mime(meta)
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
            result.problems.append(_problem_text(Error.NOT_RECORDED, name))
            return
        if not created:
            await self._take_existing(row, session_id, url, result, conversation)
            return
        self._invalidate(session_id)
        if rejection is not None:
            await self._finish(row, rejection, final=True, size=size)
            result.problems.append(
                _problem_text(rejection, name, size=size, max_mb=self._settings.max_attachment_mb)
            )
            return
        assert url is not None  # a missing URL is a rejection above
        error, stored_row = await self._transfer(row, str(url), conversation)
        if stored_row is not None:
            result.stored.append(name)
            result.files.append(stored_row)  # with its storage key: images go to the model
        else:
            assert error is not None
            result.problems.append(_problem_text(error, name, max_mb=self._settings.max_attachment_mb))
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
                f"{_bold(row.name)} is already saved in another coaching session, "
                "so I didn't save it again here."
            )
        elif row.status == "stored":
            result.stored.append(row.name)
            result.files.append(row)
        elif row.status == "pending":
            result.problems.append(f"I'm still saving {_bold(row.name)} from earlier.")
            result.retrying += 1
        elif row.status == "rejected":
            result.problems.append(_problem_text(row.error or "", row.name, size=row.size, max_mb=max_mb))
        elif url and await self._store.claim_retry(row.id, attempts=row.attempts):
            error, stored_row = await self._transfer(row, str(url), conversation)
            if stored_row is not None:
                result.stored.append(row.name)
                result.files.append(stored_row)
            elif error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED) and row.attempts + 1 >= MAX_ATTEMPTS:
                result.problems.append(_gave_up_text(row.name))
            else:
                result.problems.append(_problem_text(error or "", row.name, max_mb=max_mb))
                result.retrying += error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED)
        else:
            result.problems.append(_problem_text(Error.NOT_RECORDED, row.name))

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

    async def _transfer(
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
            code, final = _classify(error)
            logger.warning(
                "Attachment %s not stored (session=%s, error=%s)", row.id, row.session_id, _chain_names(error)
            )
            size = error.seen if isinstance(error, AttachmentTooLarge) else None
            await self._finish(row, code, final=final, size=size)
            return code, None
        if stored.size == 0:  # Slack's metadata said otherwise, but nothing came
            await self._discard(key)
            await self._finish(row, Error.EMPTY, final=True, size=0)
            return Error.EMPTY, None
        try:
            recorded = await self._store.mark_stored(
                row.id, size=stored.size, sha256=stored.sha256, storage_key=stored.key
            )
        except Exception:  # the row stays pending; the retry job takes it up once it is stale
            logger.exception("Could not record a stored attachment (attachment=%s)", row.id)
            await self._discard(key)  # no object without a stored row
            return Error.NOT_RECORDED, None
        except BaseException:
            await self._discard(key)
            raise
        if not recorded:  # the session was deleted meanwhile, or another worker finished the row
            await self._discard(key)
            return Error.SESSION_GONE, None
        self._invalidate(row.session_id)
        logger.info("Attachment %s stored (session=%s, bytes=%s)", row.id, row.session_id, stored.size)
        await self._index(row, stored.key)
        return None, dataclasses.replace(
            row, status="stored", size=stored.size, sha256=stored.sha256, storage_key=stored.key, error=None
        )

    async def _finish(
        self, row: AttachmentRecord, code: str, *, final: bool, size: int | None = None
    ) -> None:
        try:
            if final:
                await self._store.mark_rejected(row.id, code, size=size)
            else:
                await self._store.mark_failed(row.id, code)
        except Exception:  # the row stays pending; the retry job picks it up when it goes stale
            logger.exception("Could not record an attachment's failure (attachment=%s)", row.id)
        self._invalidate(row.session_id)

    async def _discard(self, key: str) -> None:
        try:
            await self.files.delete(key)
        except Exception as error:
            logger.warning("Could not remove an unrecorded attachment object: %s", type(error).__name__)

    async def _index(self, row: AttachmentRecord, key: str) -> None:
        """The reading hook; a failure there leaves the file stored (and listed) all the same."""
        if self._reader is None:
            return
        try:
            await self._reader.index_attachment(
                attachment_id=row.id,
                session_id=row.session_id,
                name=row.name,
                mime_type=row.mime_type,
                store=self.files,
                key=key,
            )
        except Exception:
            logger.exception("Indexing attachment %s failed (session=%s)", row.id, row.session_id)

    def _invalidate(self, session_id: int) -> None:
        self.listing_cache.pop(session_id)

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
                text = f"I've now saved {_bold(row.name)}."
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
            await self._finish(row, Error.DOWNLOAD_FAILED, final=False)
            error: str | None = Error.DOWNLOAD_FAILED
        else:
            url = (meta or {}).get("url_private_download") or (meta or {}).get("url_private")
            if not url or (meta or {}).get("mode") in _NOT_DOWNLOADABLE_MODES:
                await self._finish(row, Error.UNAVAILABLE, final=True)
                return _problem_text(Error.UNAVAILABLE, row.name)
            error, _ = await self._transfer(row, str(url), conversation)
        if error is None:
            return None
        if error in (Error.DOWNLOAD_FAILED, Error.UPLOAD_FAILED):
            if attempt >= MAX_ATTEMPTS:
                return _gave_up_text(row.name)
            return ""  # quiet until it works or the attempts run out
        if error == Error.SESSION_GONE:
            return ""
        return _problem_text(error, row.name, max_mb=self._settings.max_attachment_mb)

    # ------------------------------------------------------------------ the `files` listing

    async def show_listing(self, message: CoachMessage, conversation: SlackConversation) -> bool:
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
                rows = await self._listing_rows(session_id) if session_id is not None else ()
                links = await self._links(rows, for_user=message.user_id)
                text = format_listing(
                    rows, links, max_attempts=MAX_ATTEMPTS, link_minutes=LINK_EXPIRY_SECONDS // 60
                )
        except Exception:
            logger.exception("Could not read the files listing (channel=%s)", message.channel_id)
            text = LISTING_FAILED_TEXT
        # Only the asker sees an ephemeral listing (the conversation's user is message.user_id).
        await (conversation.post_ephemeral(text) if ephemeral else conversation.post(text))
        return True

    async def _listing_rows(self, session_id: int) -> tuple[AttachmentRecord, ...]:
        """The session's rows, cached for a minute; storing a file clears the entry."""
        cached = self.listing_cache.get(session_id)
        if cached is not None:
            return cached
        rows = tuple(await self._store.list_for_session(session_id))
        self.listing_cache.set(session_id, rows)
        return rows

    async def _links(self, rows: Sequence[AttachmentRecord], *, for_user: str) -> dict[int, str]:
        """Fresh links for the stored rows, made for the coach: never cached, each lives
        ``LINK_EXPIRY_SECONDS``. Shown only to ``for_user``; a local link carries that user."""
        stored = [row for row in rows if row.status == "stored" and row.storage_key]
        urls = await asyncio.gather(
            *(
                self.files.download_url(
                    str(row.storage_key), expires_in=LINK_EXPIRY_SECONDS, for_user=for_user
                )
                for row in stored
            ),
            return_exceptions=True,
        )
        links = {}
        for row, url in zip(stored, urls, strict=True):
            if isinstance(url, BaseException):
                logger.warning("No download link for attachment %s: %s", row.id, type(url).__name__)
            else:
                links[row.id] = url
        return links

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


def _classify(error: BaseException) -> tuple[str, bool]:
    """(error code, final) for a failed transfer, looking through the store's wrapping."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for cause in chain:
        if isinstance(cause, SlackFileIsLoginPage):
            return Error.LOGIN_PAGE, True
        if isinstance(cause, AttachmentTooLarge):
            return Error.TOO_LARGE, True
        if isinstance(cause, SlackDownloadError):
            return Error.DOWNLOAD_FAILED, False
    # FileStoreError, or anything unexpected on the way: worth another try later.
    return Error.UPLOAD_FAILED, False


def _problem_text(code: str, name: str, *, size: int | None = None, max_mb: int | None = None) -> str:
    """One short line for the thread, per error code."""
    file = _bold(name)
    if code == Error.EMPTY:
        return f"{file} is empty, so there was nothing to save."
    if code == Error.TOO_LARGE:
        limit = f"{max_mb} MB" if max_mb else "my size limit"
        if size:
            return f"{file} is {human_size(size)}; I can take files up to {limit}."
        return f"{file} is larger than {limit}, the most I can take."
    if code == Error.UNSUPPORTED:
        return f"I can't read {file}: I take {SUPPORTED_LABELS} files."
    if code == Error.LOGIN_PAGE:
        return (
            f"I couldn't download {file}: Slack sent me its sign-in page instead. My Slack app is "
            "probably missing the files:read permission; please tell your Slack admin."
        )
    if code == Error.UNAVAILABLE:
        return (
            f"I couldn't get {file} from Slack (it may be a link to another service, or deleted). "
            "Please upload the file itself."
        )
    if code == Error.DOWNLOAD_FAILED:
        return f"I couldn't download {file} from Slack just now. {_RETRY_PROMISE}"
    if code == Error.UPLOAD_FAILED:
        return f"I couldn't save {file} just now: my file storage didn't answer. {_RETRY_PROMISE}"
    if code == Error.NOT_RECORDED:
        return f"I couldn't save {file} just now. Please share it again in a minute."
    return f"I couldn't save {file}. Please share it again."


def _gave_up_text(name: str) -> str:
    return f"I still couldn't save {_bold(name)} after several tries. Please upload it again."


def _name_of(file: Mapping[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or file.get("id") or "your file")


def _slack_mime(file: Mapping[str, Any]) -> str:
    return (
        str(file.get("mimetype") or "application/octet-stream").split(";", 1)[0].strip()
        or "application/octet-stream"
    )


def _bold(name: str) -> str:
    return f"*{mrkdwn_escape(name)}*"


def _names(names: Sequence[str]) -> str:
    shown = [_bold(name) for name in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"


def _chain_names(error: BaseException) -> str:
    cause = error.__cause__
    return f"{type(error).__name__}<-{type(cause).__name__}" if cause is not None else type(error).__name__
