"""Once per period across replicas: claim the (job, period) row before doing the work.

Every replica's scheduler fires the weekly report (and the daily purge) at the same moment. Each
one tries ``INSERT … ON CONFLICT (job, period) DO NOTHING``; the unique constraint lets exactly one
insert through (on PostgreSQL the others wait on the index entry until the winner commits, then
insert nothing), and only the replica whose insert counted does the work. The claim commits at
once, before the work starts, so a slow job never holds a lock.

A claim is never released: if the work then fails, the period is spent and the outcome says so
(an operator can run ``coachbot report --post``; the next day's purge catches up by itself). That
errs on the side of "at most once", which for a post in a Slack channel is the right side.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from storage.models import job_runs, utcnow

logger = logging.getLogger(__name__)

CLAIMED_ELSEWHERE = "skipped: claimed elsewhere"


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
