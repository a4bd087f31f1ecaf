"""One data export at a time per coach, across replicas: a ``job_runs`` row held while it runs.

The export claims (job ``data_export``, the coach's period) before it builds anything and deletes
the claim when it ends, so the row exists only while an export runs: a second press, on any
replica, is told the first is on its way. A replica that dies mid-export leaves its claim; after
``STALE_AFTER`` the next press takes it over. The period is a digest of the workspace and user
ids (``job_runs.period`` holds 32 characters; Slack ids may be longer), so the row names nobody in
the clear; the erasure deletes it by the same digest (``export_claim_of``), and the daily ledger
prune drops any a crash left.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, update
from sqlalchemy.engine import Connection

from storage.engine import dialect_insert
from storage.memory_records import Coach
from storage.models import job_runs

EXPORT_JOB = "data_export"
#: An export claimed longer ago than this was lost with its process (a large export takes seconds).
STALE_AFTER = timedelta(minutes=15)


def export_period(coach: Coach) -> str:
    """The claim's period: 24 hex characters standing for (workspace, user)."""
    return hashlib.blake2s(f"{coach.team_id}/{coach.user_id}".encode(), digest_size=12).hexdigest()


def export_claim_of(coach: Coach) -> ColumnElement[bool]:
    """The coach's export claim, if any (what an erasure deletes)."""
    return and_(job_runs.c.job == EXPORT_JOB, job_runs.c.period == export_period(coach))


def claim_export(conn: Connection, coach: Coach, claimed_by: str, now: datetime) -> bool:
    """True when this caller now runs the coach's export: no claim, or only a stale one."""
    inserted = conn.execute(
        dialect_insert(conn)(job_runs)
        .values(job=EXPORT_JOB, period=export_period(coach), claimed_by=claimed_by, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["job", "period"])
        .execution_options(preserve_rowcount=True)
    ).rowcount
    won = inserted == 1
    if not won:
        taken = conn.execute(
            update(job_runs)
            .where(export_claim_of(coach), job_runs.c.claimed_at < now - STALE_AFTER)
            .values(claimed_by=claimed_by, claimed_at=now)
        ).rowcount
        won = taken == 1
    conn.commit()
    return won


def release_export(conn: Connection, coach: Coach, claimed_by: str) -> None:
    """The export ended (delivered, failed or withdrawn): the next press starts a new one."""
    conn.execute(delete(job_runs).where(export_claim_of(coach), job_runs.c.claimed_by == claimed_by))
    conn.commit()


def prune_export_claims(conn: Connection, now: datetime) -> int:
    """Claims a crashed replica left, past ``STALE_AFTER``: how many went."""
    gone = conn.execute(
        delete(job_runs).where(job_runs.c.job == EXPORT_JOB, job_runs.c.claimed_at < now - STALE_AFTER)
    ).rowcount
    conn.commit()
    return gone
