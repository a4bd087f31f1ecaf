"""A coach's memory in one query: the UNION ALL a new session's context reads.

Five branches (the preference, active goals, open commitments, remembered items, the last
summaries), each one index range of revision 0008, every branch with the same typed columns.
Built once per store with bind parameters for the coach, so a turn only executes it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    case,
    cast,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)

from storage.memory_records import CoachMemory, MemoryItem, MemoryKind
from storage.models import (
    CommitmentStatus,
    GoalStatus,
    SummaryStatus,
    UtcDateTime,
    coach_commitments,
    coach_goals,
    coach_preferences,
    remembered_items,
    session_summaries,
)

#: How much a new session's context holds at most of each kind (the prompt trims further).
CONTEXT_GOALS = 10
CONTEXT_COMMITMENTS = 10
CONTEXT_REMEMBERED = 10
CONTEXT_SUMMARIES = 3
#: ``/coach memory`` lists more, still bounded (an ephemeral message has at most 50 blocks).
LISTING_LIMIT = 10

_PREFERENCE = "preference"


def memory_of_rows(rows: Any) -> CoachMemory:
    """The query's rows as a ``CoachMemory`` (no preference row: memory is on)."""
    enabled = True
    found: dict[str, list[MemoryItem]] = {kind.value: [] for kind in MemoryKind}
    for row in rows:
        if row.kind == _PREFERENCE:
            enabled = row.status == "on"
            continue
        found[row.kind].append(
            MemoryItem(
                kind=MemoryKind(row.kind),
                id=int(row.id),
                text=row.text or "",
                status=row.status,
                created_at=row.at,
                due_date=as_date(row.due),
            )
        )
    return CoachMemory(
        enabled=enabled,
        goals=tuple(found[MemoryKind.GOAL]),
        commitments=tuple(found[MemoryKind.COMMITMENT]),
        summaries=tuple(found[MemoryKind.SUMMARY]),
        remembered=tuple(found[MemoryKind.REMEMBERED]),
    )


def memory_query(limit: int | None) -> Any:
    """UNION ALL of five indexed ranges; every branch has the same typed columns."""

    def branch(
        kind: str, table: Table, text: Any, status: Any, due: Any, where: Any, order: Any, n: int
    ) -> Any:
        # Only NULLs are cast (PostgreSQL would type a bare NULL in a subquery as text); a real
        # column keeps its own type, as SQLite's CAST to DATE would turn "2026-12-08" into 2026.
        return (
            select(
                literal(kind, String).label("kind"),
                literal(0, Integer).label("id") if kind == _PREFERENCE else table.c.id.label("id"),
                (cast(null(), Text) if text is None else text).label("text"),
                status.label("status"),
                (cast(null(), Date) if due is None else due).label("due"),
                (table.c.created_at if kind == MemoryKind.SUMMARY else table.c.updated_at).label("at"),
            )
            .where(
                table.c.team_id == bindparam("b_team_id"), table.c.user_id == bindparam("b_user_id"), *where
            )
            .order_by(*order)
            .limit(n)
            .subquery()
        )

    g, c, s, r, p = coach_goals, coach_commitments, session_summaries, remembered_items, coach_preferences
    branches = [
        branch(
            _PREFERENCE, p, None, case((p.c.memory_enabled.is_(True), "on"), else_="off"), None, (), (), 1
        ),
        branch(
            MemoryKind.GOAL,
            g,
            g.c.text,
            g.c.status,
            None,
            (g.c.status == GoalStatus.ACTIVE.value,),
            (g.c.status, g.c.updated_at.desc()),
            limit or CONTEXT_GOALS,
        ),
        branch(
            MemoryKind.COMMITMENT,
            c,
            c.c.text,
            c.c.status,
            c.c.due_date,
            (c.c.status == CommitmentStatus.OPEN.value,),
            (c.c.status, c.c.due_date),
            limit or CONTEXT_COMMITMENTS,
        ),
        branch(
            MemoryKind.REMEMBERED,
            r,
            r.c.text,
            literal("kept", String),
            None,
            (),
            (r.c.created_at.desc(),),
            limit or CONTEXT_REMEMBERED,
        ),
        branch(
            MemoryKind.SUMMARY,
            s,
            s.c.summary,
            s.c.status,
            None,
            (s.c.status == SummaryStatus.DONE.value, s.c.summary.is_not(None)),
            (s.c.status, s.c.created_at.desc()),
            limit or CONTEXT_SUMMARIES,
        ),
    ]
    union = union_all(*(select(*b.c) for b in branches)).subquery()
    return select(
        union.c.kind,
        union.c.id,
        union.c.text,
        union.c.status,
        type_coerce(union.c.due, Date).label("due"),
        type_coerce(union.c.at, UtcDateTime).label("at"),
    )


def as_date(value: Any) -> date | None:
    """SQLite hands a Date back as text inside a UNION; PostgreSQL as a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
