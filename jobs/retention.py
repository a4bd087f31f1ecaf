"""The daily retention purge: sessions idle longer than RETENTION_DAYS go, with everything they hold.

A session's stored files are deleted first, then its rows (messages explicitly; attachments rows
by their ON DELETE CASCADE). In that order a failure leaves nothing unreachable: if the file store
fails, the rows stay and tomorrow's run tries the whole session again (``delete_prefix`` does not
mind files that are already gone); rows deleted first could orphan files that nothing points at.

Sessions go in small batches, each its own short transaction, so the app's writes (SQLite has one
writer at a time) wait milliseconds, not the whole purge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, delete, select

from jobs import claims
from storage.file_store import session_prefix
from storage.models import chat_messages, coaching_sessions

logger = logging.getLogger(__name__)

JOB = "retention_purge"
BATCH_SESSIONS = 200

#: Deletes every stored object under a "{team}/{session id}/" prefix; blocking, returns how many.
DeletePrefix = Callable[[str], int]


@dataclass(frozen=True)
class PurgeResult:
    sessions: int = 0
    messages: int = 0
    files: int = 0


def purge_idle_sessions(
    engine: Engine,
    *,
    retention_days: int,
    now: datetime,
    delete_files: DeletePrefix | None,
    batch_size: int = BATCH_SESSIONS,
    per_team: Mapping[str, int] | None = None,
) -> PurgeResult:
    """Delete sessions whose last activity (``updated_at``) is older than ``retention_days``.

    ``per_team``: workspaces that set their own days (``/coach admin retention``; 0 keeps all);
    ``retention_days`` 0 keeps every other workspace's sessions.
    """
    own = dict(per_team or {})
    total = PurgeResult()
    if retention_days:
        cutoff = now - timedelta(days=retention_days)
        condition = coaching_sessions.c.updated_at < cutoff
        if own:
            condition = condition & coaching_sessions.c.team_id.not_in(list(own))
        total = purge_sessions(engine, condition, delete_files=delete_files, batch_size=batch_size)
    for team, days in sorted(own.items()):
        if days:
            condition = (coaching_sessions.c.team_id == team) & (
                coaching_sessions.c.updated_at < now - timedelta(days=days)
            )
            done = purge_sessions(engine, condition, delete_files=delete_files, batch_size=batch_size)
            total = PurgeResult(
                total.sessions + done.sessions, total.messages + done.messages, total.files + done.files
            )
    return total


def purge_sessions(
    engine: Engine,
    condition: ColumnElement[bool],
    *,
    delete_files: DeletePrefix | None,
    batch_size: int = BATCH_SESSIONS,
) -> PurgeResult:
    """Delete the sessions ``condition`` picks, files first, in batches (re-checked under a lock)."""
    sessions = messages = files = 0
    while True:
        with engine.connect() as connection:
            batch = connection.execute(
                select(coaching_sessions.c.id, coaching_sessions.c.team_id)
                .where(condition)
                .order_by(coaching_sessions.c.id)
                .limit(batch_size)
            ).all()
        if not batch:
            break
        if delete_files is not None:
            for session_id, team_id in batch:
                files += delete_files(session_prefix(team_id, session_id))
        ids = [session_id for session_id, _team in batch]
        with engine.begin() as connection:
            # Re-checked under a row lock: a coach may have written into one of them meanwhile.
            still_picked = (
                connection.execute(
                    select(coaching_sessions.c.id)
                    .where(coaching_sessions.c.id.in_(ids), condition)
                    .with_for_update()
                )
                .scalars()
                .all()
            )
            messages += connection.execute(
                delete(chat_messages).where(chat_messages.c.session_id.in_(still_picked))
            ).rowcount
            sessions += connection.execute(
                delete(coaching_sessions).where(coaching_sessions.c.id.in_(still_picked))
            ).rowcount
        if len(batch) < batch_size:
            break
    return PurgeResult(sessions=sessions, messages=messages, files=files)


def run_retention_purge(
    engine: Engine,
    *,
    retention_days: int,
    timezone: str,
    claimed_by: str,
    now: datetime,
    delete_files: DeletePrefix | None,
    per_team: Callable[[], Mapping[str, int]] | None = None,
) -> str:
    """Claim today (in the report timezone) and purge; the outcome for the scheduler's status."""
    period = now.astimezone(ZoneInfo(timezone)).date().isoformat()
    if not claims.claim(engine, JOB, period, claimed_by, now=now):
        return claims.CLAIMED_ELSEWHERE
    try:
        result = purge_idle_sessions(
            engine,
            retention_days=retention_days,
            now=now,
            delete_files=delete_files,
            per_team=per_team() if per_team is not None else None,
        )
    except Exception as error:
        claims.finish(engine, JOB, period, claimed_by, f"error: {type(error).__name__}")
        raise
    logger.info(
        "Retention purge (%d days): removed %d sessions, %d messages, %d stored files",
        retention_days,
        result.sessions,
        result.messages,
        result.files,
    )
    claims.finish(engine, JOB, period, claimed_by, "ok")
    return "ok"
