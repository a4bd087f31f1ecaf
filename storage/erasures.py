"""Erasing one coach (in one workspace): every row of theirs, found from the schema itself.

Which rows are a coach's is read off ``Base.metadata``, not listed by hand, so a table added
later is erased without anyone remembering to: a table with ``team_id`` and ``user_id`` is keyed
by coach; one whose rows cannot outlive a parent row (a foreign key without ``SET NULL``, or a
``session_id`` column) goes with the parent's erased rows; a ``user_id`` without ``team_id`` is
scoped through the session's workspace. Two ledgers key their rows by name instead (the greeting
claim, the check-in claims) and are named here. A table that holds nobody's coaching data says
why in ``NOT_A_COACHS``; tests/test_erasure_tables.py fails on any table that is neither.

The erasure row (``coach_erasures``) is recorded first, in its own transaction, so every write
that starts after it refuses what Slack dated before it; the writes already under way are waited
for (``wait_for_writes_under_way``); then the rows go in one transaction, children before parents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, and_, delete, false, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from storage.checkins import CHECKIN_JOB
from storage.erasure_models import coach_erasures
from storage.export_claims import export_claim_of
from storage.greetings import GREETING_KEY_PREFIX
from storage.memory_records import Coach
from storage.models import (
    Base,
    attachments,
    coach_commitments,
    coaching_sessions,
    job_runs,
    processed_events,
)

#: Tables that hold no coach's coaching data, and why they are left alone.
NOT_A_COACHS: dict[str, str] = {
    "workspace_settings": "the workspace's own settings, set by its admins",
    "workspace_uninstalls": "when a workspace left; no user in it",
    "slack_bots": "the workspace's bot token: the workspace's, not the coach's",
    "slack_installations": "the workspace's installation (its installer's ids go with the uninstall)",
    "slack_oauth_states": "ten-minute OAuth states with no user in them",
    "coach_erasures": "the erasure itself, which keeps the delete from being undone (pruned after a week)",
}
#: Ledgers whose rows name the coach in a key, not a column (see ``_named_rows``).
NAMED_LEDGERS = ("processed_events", "job_runs")
#: How long the delete waits for writes already under way (``wait_for_writes_under_way``).
BARRIER_TIMEOUT_MS = 5000
#: How many check-in claims one statement deletes (each is a LIKE on the period).
CLAIMS_PER_STATEMENT = 200


@dataclass(frozen=True)
class ErasedRows:
    """What an erasure removed, per table; the sessions it held, and those with stored files."""

    rows: dict[str, int] = field(default_factory=dict)
    session_ids: frozenset[int] = frozenset()
    file_sessions: frozenset[int] = frozenset()

    def count(self, *tables: str) -> int:
        return sum(self.rows.get(table, 0) for table in tables)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _coach_rows(table: Table, coach: Coach) -> ColumnElement[bool]:
    return and_(table.c.team_id == coach.team_id, table.c.user_id == coach.user_id)


def _parent_foreign_keys(table: Table) -> list[tuple[Any, Table, Any]]:
    """(column, parent table, parent column) for each parent a row cannot outlive."""
    found = []
    for key in table.foreign_keys:
        if (key.ondelete or "").upper() == "SET NULL":
            continue  # by design the row stays when its parent goes (a goal's source session)
        found.append((key.parent, key.column.table, key.column))
    if "session_id" in table.c and not table.c.session_id.foreign_keys:
        # A copied session id without a constraint (attachment_chunks): still the session's row.
        found.append((table.c.session_id, coaching_sessions, coaching_sessions.c.id))
    return found


def erasure_conditions(metadata: MetaData, coach: Coach) -> dict[str, ColumnElement[bool]]:
    """Every table holding the coach's rows, with the WHERE that picks them (ledgers excluded)."""
    conditions: dict[str, ColumnElement[bool]] = {}
    for table in metadata.sorted_tables:  # parents first: a child's condition reads its parent's
        if table.name in NOT_A_COACHS or table.name in NAMED_LEDGERS:
            continue
        parts: list[ColumnElement[bool]] = []
        if "team_id" in table.c and "user_id" in table.c:
            parts.append(_coach_rows(table, coach))
        for column, parent, parent_column in _parent_foreign_keys(table):
            if parent.name in conditions:
                parts.append(column.in_(select(parent_column).where(conditions[parent.name])))
        if "user_id" in table.c and "team_id" not in table.c and "session_id" in table.c:
            # Someone's rows in sessions of this workspace (a bystander note *about* the coach).
            in_team = select(coaching_sessions.c.id).where(coaching_sessions.c.team_id == coach.team_id)
            parts.append(and_(table.c.user_id == coach.user_id, table.c.session_id.in_(in_team)))
        if parts:
            conditions[table.name] = or_(*parts)
    return conditions


def uncovered_tables(metadata: MetaData) -> list[str]:
    """Tables neither erased (by ``erasure_conditions`` or as a ledger) nor said to hold no coach's data."""
    covered = set(erasure_conditions(metadata, Coach("T", "U"))) | set(NAMED_LEDGERS) | set(NOT_A_COACHS)
    return sorted(name for name in metadata.tables if name not in covered)


def record_erasure(conn: Connection, coach: Coach, at: datetime) -> None:
    """The coach's erasure time, before anything is deleted (a second delete moves it on)."""
    moved = conn.execute(
        update(coach_erasures).where(_coach_rows(coach_erasures, coach)).values(erased_at=at)
    ).rowcount
    if not moved:
        conn.execute(
            coach_erasures.insert().values(team_id=coach.team_id, user_id=coach.user_id, erased_at=at)
        )
    conn.commit()


def wait_for_writes_under_way(conn: Connection) -> bool:
    """PostgreSQL: wait until every write to ``coaching_sessions`` already running has committed.

    A coach's message is one statement whose snapshot may predate the erasure record, so it may
    not see it, and its rows, committed after the delete's own snapshot, would survive. Taking
    the table's SHARE lock waits for exactly those writers (their ROW EXCLUSIVE lock is held to
    their commit) and is let go at once; a write that starts after the lock sees the record.
    Turns pause only for that wait. False when it timed out (a stuck transaction): the delete
    goes on regardless. SQLite needs none: its writes queue one at a time.
    """
    if conn.dialect.name != "postgresql":
        return True
    try:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{BARRIER_TIMEOUT_MS}ms'")
        conn.exec_driver_sql(f"LOCK TABLE {coaching_sessions.name} IN SHARE MODE")
    except DBAPIError:
        conn.rollback()
        return False
    conn.commit()
    return True


def stored_file_sessions(conn: Connection, coach: Coach) -> list[int]:
    """The coach's sessions that hold (or are receiving) a file: the file store prefixes to empty."""
    picked = erasure_conditions(Base.metadata, coach)["attachments"]
    return sorted(set(conn.execute(select(attachments.c.session_id).where(picked)).scalars()))


def erase_rows(conn: Connection, coach: Coach) -> ErasedRows:
    """Delete every row of the coach in one transaction, children first; how many per table."""
    conditions = erasure_conditions(Base.metadata, coach)
    sessions = frozenset(
        conn.execute(select(coaching_sessions.c.id).where(conditions["coaching_sessions"])).scalars()
    )
    with_files = frozenset(stored_file_sessions(conn, coach))
    counts = _named_rows(conn, coach)
    for table in reversed(Base.metadata.sorted_tables):
        condition = conditions.get(table.name)
        if condition is not None:
            counts[table.name] = conn.execute(delete(table).where(condition)).rowcount
    conn.commit()
    return ErasedRows({name: count for name, count in counts.items() if count}, sessions, with_files)


def _named_rows(conn: Connection, coach: Coach) -> dict[str, int]:
    """The greeting claim (``greeting:<user>``), the check-in claims of the coach's commitments, and
    an export claim (``storage.export_claims``)."""
    greeting = and_(
        processed_events.c.team_id == coach.team_id,
        processed_events.c.event_id == f"{GREETING_KEY_PREFIX}{coach.user_id}",
    )
    events = conn.execute(delete(processed_events).where(greeting)).rowcount
    ids = list(
        conn.execute(select(coach_commitments.c.id).where(_coach_rows(coach_commitments, coach))).scalars()
    )
    claims = 0
    for start in range(0, len(ids), CLAIMS_PER_STATEMENT):
        periods = [job_runs.c.period.like(f"{i}/%") for i in ids[start : start + CLAIMS_PER_STATEMENT]]
        claims += conn.execute(
            delete(job_runs).where(job_runs.c.job == CHECKIN_JOB, or_(false(), *periods))
        ).rowcount
    claims += conn.execute(delete(job_runs).where(export_claim_of(coach))).rowcount
    return {"processed_events": events, "job_runs": claims}
