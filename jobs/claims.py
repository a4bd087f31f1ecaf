"""Once per period across replicas: claim the (job, period) row before doing the work.

Every replica's scheduler fires the weekly report (and the daily purge) at the same moment. Each
one tries ``INSERT … ON CONFLICT (job, period) DO NOTHING``; the unique constraint lets exactly one
insert through (on PostgreSQL the others wait on the index entry until the winner commits, then
insert nothing), and only the replica whose insert counted does the work. The claim commits at
once, before the work starts, so a slow job never holds a lock.

A claim is never released. When the work fails, the outcome says so (``error: …``), and a retry
takes the claim over with ``reclaim_failed``: one ``UPDATE`` that matches only that failed outcome
and its claimer, so of several replicas retrying at once exactly one wins, and an attempt still
running (no outcome yet) or one that succeeded is never taken over. An attempt whose process died
mid-way keeps its claim unfinished: whether its post reached Slack is unknown, and a second post
is worse than none (an operator can run ``coachbot report --post``).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from storage.models import job_runs, utcnow

logger = logging.getLogger(__name__)

CLAIMED_ELSEWHERE = "skipped: claimed elsewhere"
FAILED_PREFIX = "error: "


@dataclass(frozen=True)
class Claim:
    """A (job, period) row as a retry sees it."""

    claimed_by: str
    claimed_at: datetime
    finished_at: datetime | None
    outcome: str | None

    @property
    def failed(self) -> bool:
        return self.finished_at is not None and (self.outcome or "").startswith(FAILED_PREFIX)


def replica_id() -> str:
    """Who claims: host, process and a random suffix, unique even for several schedulers in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _insert(engine: Engine) -> type[Insert]:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert  # type: ignore[return-value]
    if dialect == "sqlite":
        return sqlite.insert  # type: ignore[return-value]
    raise ValueError(f"no ON CONFLICT insert for the {dialect!r} dialect")


def claim(engine: Engine, job: str, period: str, claimed_by: str, *, now: datetime | None = None) -> bool:
    """True when this caller now owns (job, period) and should do the work; False when someone else does."""
    statement = (
        _insert(engine)(job_runs)  # type: ignore[operator]
        .values(job=job, period=period, claimed_by=claimed_by, claimed_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["job", "period"])
        # The row count of an INSERT is kept only on request (psycopg reports it once RETURNING,
        # which SQLAlchemy adds for the primary key, has been read).
        .execution_options(preserve_rowcount=True)
    )
    with engine.begin() as connection:
        won = connection.execute(statement).rowcount == 1
    logger.info("Job %s period %s: %s", job, period, "claimed" if won else "already claimed elsewhere")
    return won


def finish(
    engine: Engine, job: str, period: str, claimed_by: str, outcome: str, *, now: datetime | None = None
) -> None:
    """Record how the claimed work ended (only the claimer's row is touched)."""
    with engine.begin() as connection:
        connection.execute(
            update(job_runs)
            .where(job_runs.c.job == job, job_runs.c.period == period, job_runs.c.claimed_by == claimed_by)
            .values(finished_at=now or utcnow(), outcome=outcome[:255])
        )


def prune(engine: Engine, job: str, *, claimed_before: datetime) -> int:
    """Delete ``job``'s finished claims older than ``claimed_before``; how many went.

    For jobs that claim a short slot (the idle wrap-up: 144 a day), whose old rows only guarded a
    moment long past. Unfinished claims stay: whether their work reached Slack is unknown.
    """
    statement = delete(job_runs).where(
        job_runs.c.job == job, job_runs.c.claimed_at < claimed_before, job_runs.c.finished_at.is_not(None)
    )
    with engine.begin() as connection:
        return connection.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def find(engine: Engine, job: str, period: str) -> Claim | None:
    """The period's claim, if any."""
    with engine.connect() as connection:
        row = connection.execute(
            select(
                job_runs.c.claimed_by, job_runs.c.claimed_at, job_runs.c.finished_at, job_runs.c.outcome
            ).where(job_runs.c.job == job, job_runs.c.period == period)
        ).first()
    return Claim(row.claimed_by, row.claimed_at, row.finished_at, row.outcome) if row is not None else None


def reclaim_failed(engine: Engine, job: str, period: str, seen: Claim, claimed_by: str) -> bool:
    """Take over the failed attempt ``seen``; True when this caller now owns the period again.

    Atomic: the row changes only while it still holds exactly that failed outcome and claimer, so
    one of several racing retries wins and none takes over a newer attempt. ``claimed_at`` stays
    the first attempt's: the work is the same as that attempt's (the same week's report).
    """
    if not seen.failed:
        return False
    statement = (
        update(job_runs)
        .where(
            job_runs.c.job == job,
            job_runs.c.period == period,
            job_runs.c.claimed_by == seen.claimed_by,
            job_runs.c.outcome == seen.outcome,
            job_runs.c.finished_at.is_not(None),
        )
        .values(claimed_by=claimed_by, finished_at=None, outcome=None)
    )
    with engine.begin() as connection:
        won = connection.execute(statement).rowcount == 1
    logger.info("Job %s period %s: %s", job, period, "retrying" if won else "retry claimed elsewhere")
    return won
