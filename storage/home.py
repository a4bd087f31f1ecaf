"""What a coach's App Home shows, read in one hop: sessions, memory, files, check-ins on or off.

Every query is one bounded index range keyed by the coach (team and user): a coach's sessions by
``idx_user_active_updated``, their memory by revision 0008's indexes (``memory_query``), their
files through the sessions that hold one, their check-in opt-out by its primary key. Runs in
one ``run_sync`` so a Home costs one trip to the database thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from storage.attachments import AttachmentRecord, stored_files_of_coach
from storage.checkins import checkins_enabled
from storage.memory_query import memory_of_rows, memory_query
from storage.memory_records import CoachMemory
from storage.models import coaching_sessions


@dataclass(frozen=True)
class HomeSession:
    """One session as the Home lists it: where its thread is, its title, its last activity."""

    id: int
    channel_id: str
    thread_ts: str
    title: str | None
    updated_at: datetime
    is_active: bool


@dataclass(frozen=True)
class HomeLimits:
    """How many of each the Home reads (it shows a count of the rest)."""

    active: int
    inactive: int
    memory: int
    files: int


@dataclass(frozen=True)
class HomeRecords:
    """A coach's Home, as our tables hold it."""

    active: tuple[HomeSession, ...]
    inactive: tuple[HomeSession, ...]
    active_count: int
    inactive_count: int
    memory: CoachMemory
    files: tuple[AttachmentRecord, ...]
    checkins_on: bool


def _sessions(
    connection: Connection, team_id: str, user_id: str, *, active: bool, limit: int
) -> tuple[HomeSession, ...]:
    s = coaching_sessions
    rows = connection.execute(
        select(s.c.id, s.c.channel_id, s.c.thread_ts, s.c.title, s.c.updated_at, s.c.is_active)
        .where(s.c.user_id == user_id, s.c.is_active.is_(active), s.c.team_id == team_id)
        .order_by(s.c.updated_at.desc(), s.c.id.desc())
        .limit(limit)
    ).all()
    return tuple(HomeSession(*row) for row in rows)


def _session_counts(connection: Connection, team_id: str, user_id: str) -> dict[bool, int]:
    s = coaching_sessions
    rows = connection.execute(
        select(s.c.is_active, func.count())
        .where(s.c.user_id == user_id, s.c.team_id == team_id)
        .group_by(s.c.is_active)
    ).all()
    return {bool(active): int(count) for active, count in rows}


def home_records(connection: Connection, team_id: str, user_id: str, limits: HomeLimits) -> HomeRecords:
    """Everything a coach's Home shows, keyed by (team_id, user_id): never by anything in a payload."""
    counts = _session_counts(connection, team_id, user_id)
    memory_rows = connection.execute(
        memory_query(limits.memory), {"b_team_id": team_id, "b_user_id": user_id}
    ).all()
    return HomeRecords(
        active=_sessions(connection, team_id, user_id, active=True, limit=limits.active),
        inactive=_sessions(connection, team_id, user_id, active=False, limit=limits.inactive),
        active_count=counts.get(True, 0),
        inactive_count=counts.get(False, 0),
        memory=memory_of_rows(memory_rows),
        files=tuple(stored_files_of_coach(connection, team_id, user_id, limits.files)),
        checkins_on=checkins_enabled(connection, team_id, user_id),
    )
