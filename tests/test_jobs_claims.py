"""A once-per-period job is claimed by exactly one caller, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from jobs import claims
from jobs.database import create_jobs_engine
from storage.models import job_runs


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_jobs_engine(database_url)
    yield engine
    engine.dispose()


def test_the_first_claim_of_a_period_wins_and_later_ones_lose(db: Engine):
    assert claims.claim(db, "weekly_report", "2026-W48", "replica-a") is True
    assert claims.claim(db, "weekly_report", "2026-W48", "replica-b") is False
    assert claims.claim(db, "weekly_report", "2026-W48", "replica-a") is False  # not even twice by one


def test_each_period_and_each_job_is_claimed_separately(db: Engine):
    assert claims.claim(db, "weekly_report", "2026-W48", "a")
    assert claims.claim(db, "weekly_report", "2026-W49", "a")
    assert claims.claim(db, "retention_purge", "2026-W48", "a")


def test_three_replicas_racing_for_one_period_produce_one_winner(database_url: str):
    engines = [create_jobs_engine(database_url) for _ in range(3)]
    start = threading.Barrier(3)
    results: dict[str, bool] = {}

    def race(name: str, engine: Engine) -> None:
        start.wait()
        results[name] = claims.claim(engine, "weekly_report", "2026-W48", name)

    threads = [threading.Thread(target=race, args=(f"replica-{i}", e)) for i, e in enumerate(engines)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for engine in engines:
            engine.dispose()

    assert sorted(results.values()) == [False, False, True]


def test_finishing_records_the_outcome_on_the_claimers_row(db: Engine):
    claims.claim(db, "weekly_report", "2026-W48", "replica-a")

    claims.finish(db, "weekly_report", "2026-W48", "replica-b", "ok")  # not its claim: no effect
    with db.connect() as conn:
        row = conn.execute(select(job_runs)).one()
    assert (row.claimed_by, row.finished_at, row.outcome) == ("replica-a", None, None)

    claims.finish(db, "weekly_report", "2026-W48", "replica-a", "error: SlackApiError")
    with db.connect() as conn:
        row = conn.execute(select(job_runs)).one()
    assert row.outcome == "error: SlackApiError"
    assert row.finished_at is not None and row.finished_at >= row.claimed_at


def test_pruning_deletes_only_that_jobs_old_finished_claims(db: Engine):
    old, recent = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    for period, when in [("old-done", old), ("old-running", old), ("recent", recent)]:
        claims.claim(db, "idle_wrap_up", period, "a", now=when)
    claims.claim(db, "weekly_report", "2026-W44", "a", now=old)
    for period in ["old-done", "recent"]:
        claims.finish(db, "idle_wrap_up", period, "a", "done")
    claims.finish(db, "weekly_report", "2026-W44", "a", "done")

    assert claims.prune(db, "idle_wrap_up", claimed_before=recent - timedelta(days=7)) == 1

    with db.connect() as connection:
        left = connection.execute(select(job_runs.c.job, job_runs.c.period)).all()
    assert sorted(left) == [
        ("idle_wrap_up", "old-running"),
        ("idle_wrap_up", "recent"),
        ("weekly_report", "2026-W44"),
    ]


def test_replica_ids_differ_even_within_one_process():
    assert claims.replica_id() != claims.replica_id()
