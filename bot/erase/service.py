"""Delete my data: ``/coach delete`` or the App Home button opens a modal; confirming it erases the
coach's rows, stored files and cache entries in this workspace, and the modal says how many.

Whose data goes is the submitter's, as Slack signed the submission (team and user): nothing in
the payload can name someone else's. The modal remembers whom it was opened for, and a
submission by anyone else is refused.

The order is what makes it stick (storage/erasures.py): the erasure time is recorded first, so
from then on no write on any replica keeps anything of theirs that Slack dated before it (a
redelivered message, a reply still streaming, a wrap-up or check-in already under way); writes
already running when it was recorded are waited for; then the stored files (S3 objects with
their unfinished multipart uploads, or the local folder's files), then every row in one
transaction, then the files once more, for an upload that was completing meanwhile (its intake
finds its row gone and removes its own object too). If the file store fails, the rows stay, so
trying again finds everything still to delete.

This process's caches drop the coach's entries at once. Other replicas' entries expire on their
own TTL (30 s to an hour) and cannot bring anything back meanwhile: a cached session id whose
row is gone makes the turn's write look the thread up again, memory is read afresh for every
new session, a file listing is keyed by a session id that is never reused, and the rest (a
coach's timezone, whether they are an admin) are Slack's answers, not their coaching data.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.coach import CoachRequest
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.erase.blocks import (
    FAILED_TEXT,
    FRESH_TEXT,
    REFUSED_TEXT,
    UNFINISHED_TEXT,
    confirm_view,
    message_view,
    opened_for,
    working_view,
)
from bot.operations.logs import safe_error
from storage.caches import CacheRegistry
from storage.conversations import ConversationStore
from storage.erasures import (
    ErasedRows,
    erase_rows,
    record_erasure,
    stored_file_sessions,
    wait_for_writes_under_way,
)
from storage.file_store import FileStore, FileStoreError, session_prefix
from storage.memory_records import Coach
from storage.models import utcnow

logger = logging.getLogger(__name__)

HELP_LINE = "delete everything I keep about you in this workspace (asks first)"
MEMORY_TABLES = ("coach_goals", "coach_commitments", "session_summaries", "remembered_items")
NO_TRIGGER_TEXT = "I couldn't open the confirmation just now; please try `/coach delete` again."


class EraseFailed(Exception):
    """The file store failed: nothing but the erasure time was changed."""


class EraseService:
    """``/coach delete``, the ``coach_data_delete`` button and the modal's submission."""

    def __init__(
        self,
        store: ConversationStore,
        files: FileStore | None,
        caches: CacheRegistry | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._files = files
        self._caches = caches
        self._clock = clock
        #: Called with (team_id, user_id) once a coach's data is gone (App Home's refresh).
        self.on_erased: list[Callable[[str, str], Awaitable[object]]] = []

    # ----------------------------------------------------------------- asking

    async def subcommand(self, request: CoachRequest) -> None:
        """``/coach delete``: the confirmation modal, opened with the command's trigger."""
        coach = Coach(request.team_id, request.user_id)
        if not await self.open_confirmation(coach, request.trigger_id, request.client):
            await request.respond(response_type="ephemeral", text=NO_TRIGGER_TEXT)

    async def open_confirmation(self, coach: Coach, trigger_id: str, client: AsyncWebClient) -> bool:
        """views.open with the interaction's trigger (valid 3 s, once); False when Slack refused it."""
        try:
            await client.views_open(trigger_id=trigger_id, view=confirm_view(coach))
        except SLACK_ERRORS as error:
            logger.warning("Could not open the delete confirmation (error=%s)", slack_error_name(error))
            return False
        return True

    def acknowledgement(self, view: dict[str, Any], submitter: Coach) -> tuple[dict[str, Any], bool]:
        """What the submission is acked with, and whether to go ahead (the modal is the submitter's)."""
        if str(view.get("private_metadata") or "") != opened_for(submitter):
            return {"response_action": "update", "view": message_view(REFUSED_TEXT)}, False
        return {"response_action": "update", "view": working_view()}, True

    async def confirmed(self, submitter: Coach, view_id: str, client: AsyncWebClient) -> None:
        """Erase, then show the counts in the modal (the coach's own screen, nobody else's)."""
        try:
            erased = await self.erase(submitter)
        except EraseFailed:
            text, note = FAILED_TEXT, None
        except Exception as error:  # the database, most likely: the coach still hears how it ended
            logger.error("Erasure failed: %s", safe_error(error), exc_info=error)
            text, note = UNFINISHED_TEXT, None
        else:
            text, note = counts_text(erased), FRESH_TEXT
        try:
            await client.views_update(view_id=view_id, view=message_view(text, note=note))
        except SLACK_ERRORS as error:  # the modal was closed: their DM says it instead
            logger.warning("Could not show the delete's counts (error=%s)", slack_error_name(error))
            await self._tell_in_dm(client, submitter, text)

    # ----------------------------------------------------------------- erasing

    async def erase(self, coach: Coach) -> ErasedRows:
        """Everything of ``coach`` in their workspace: rows, stored files, cache entries."""
        await self._store.run_write(functools.partial(record_erasure, coach=coach, at=self._clock()))
        if not await self._store.run_write(wait_for_writes_under_way):
            logger.warning("Erasure went on without waiting for a write still under way")
        with_files = await self._store.run_write(functools.partial(stored_file_sessions, coach=coach))
        files = await self._delete_files(coach, with_files)
        rows = await self._store.run_write(functools.partial(erase_rows, coach=coach))
        files += await self._delete_files(coach, set(with_files) | rows.file_sessions)
        dropped = self._forget_cached(coach, rows.session_ids)
        for hook in self.on_erased:
            try:
                await hook(coach.team_id, coach.user_id)
            except Exception as error:  # the data is gone either way
                logger.warning("An after-erasure hook failed (error=%s)", type(error).__name__)
        logger.info(
            "Coach data erased: %d sessions, %d rows, %d stored files, %d cache entries",
            rows.count("coaching_sessions"),
            rows.total_rows,
            files,
            dropped,
        )
        return ErasedRows({**rows.rows, "files": files}, rows.session_ids, rows.file_sessions)

    async def _delete_files(self, coach: Coach, session_ids: Iterable[int]) -> int:
        if self._files is None:
            return 0
        deleted = 0
        try:
            for session_id in sorted(session_ids):  # objects and unfinished multipart uploads
                deleted += await self._files.delete_prefix(session_prefix(coach.team_id, session_id))
        except FileStoreError as error:
            logger.warning("Erasure stopped: the file store failed (%s)", error)
            raise EraseFailed from error
        return deleted

    def _forget_cached(self, coach: Coach, session_ids: frozenset[int]) -> int:
        if self._caches is None:
            return 0
        doomed = functools.partial(names_coach, coach=coach, session_ids=session_ids)
        return sum(self._caches.get(name).drop_where(doomed) for name in self._caches.names())

    async def _tell_in_dm(self, client: AsyncWebClient, coach: Coach, text: str) -> None:
        try:
            opened = await client.conversations_open(users=coach.user_id)
            await client.chat_postMessage(channel=opened["channel"]["id"], text=text)
        except SLACK_ERRORS as error:
            logger.warning(
                "Could not tell a coach their data was deleted (error=%s)", slack_error_name(error)
            )


def names_coach(key: Any, value: Any, *, coach: Coach, session_ids: frozenset[int]) -> bool:
    """Whether a cache entry is the coach's: keyed by them, by (team, user), or by or to their session."""
    if key == coach:
        return True
    if isinstance(key, tuple) and coach.team_id in key and coach.user_id in key:
        return True
    if isinstance(key, int) and not isinstance(key, bool) and key in session_ids:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and value in session_ids


def counts_text(erased: ErasedRows) -> str:
    """ "Deleted: 3 sessions, 41 messages, 2 files, …" (counts only)."""
    parts = [
        _counted(erased.count("coaching_sessions"), "session"),
        _counted(erased.count("chat_messages"), "message"),
        _counted(erased.count("files"), "file"),
    ]
    if erased.count(*MEMORY_TABLES):
        parts.append(_counted(erased.count(*MEMORY_TABLES), "memory item"))
    if erased.count("checkins"):
        parts.append(_counted(erased.count("checkins"), "check-in"))
    named = {"coaching_sessions", "chat_messages", "files", "checkins", *MEMORY_TABLES}
    other = sum(count for table, count in erased.rows.items() if table not in named)
    if other:
        parts.append(_counted(other, "other record"))
    return "Done. I deleted " + ", ".join(parts) + "."


def _counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
