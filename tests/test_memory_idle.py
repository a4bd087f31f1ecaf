"""Sessions without a message for SESSION_IDLE_HOURS are wrapped up by a job, once across replicas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from jobs import claims
from jobs.database import create_jobs_engine
from jobs.idle_wrap_up import IdleWrapUpJob, slot_of
from storage.models import coaching_sessions
from tests.test_memory_e2e import WRAP_UP, query, start_session, structured_requests

DM = "D0COACH"


def test_slots_are_ten_minutes_long() -> None:
    assert slot_of(datetime(2026, 12, 1, 11, 19, 59, tzinfo=UTC)) == "2026-12-01T11:10"


def test_an_idle_session_is_wrapped_up_once_by_three_replicas(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    reply = start_session(slack_emulator, coachbot)
    start_session(slack_emulator, coachbot, "A second session, still going.")
    fake_openai.queue_json(WRAP_UP)
    now = datetime.now(UTC)
    engine = create_jobs_engine(database_url)
    try:
        with engine.begin() as connection:  # the first session's last message was 25 hours ago
            s = coaching_sessions
            connection.execute(
                update(s).where(s.c.thread_ts == reply.thread_ts).values(updated_at=now - timedelta(hours=25))
            )
        runtime = coachbot.runtime
        assert runtime.memory is not None

        def wrap(cutoff: datetime) -> int:
            return coachbot.run_coroutine(runtime.memory.wrap_up_idle(cutoff, runtime.slack_client))  # type: ignore[union-attr]

        replicas = [
            IdleWrapUpJob(engine, idle_hours=24, claimed_by=f"replica-{n}", wrap=wrap) for n in range(3)
        ]
        with ThreadPoolExecutor(3) as pool:
            outcomes = list(pool.map(lambda job: job.run(now), replicas))
    finally:
        engine.dispose()

    assert sorted(outcomes) == [claims.CLAIMED_ELSEWHERE] * 2 + ["wrapped up 1 idle session(s)"]
    summary = slack_emulator.replies_in(DM, reply.thread_ts or "")[-1]
    assert summary.text.startswith("Session wrapped up.")
    assert len(structured_requests(fake_openai)) == 1
    # The idle session ended; the one still going did not.
    sessions = sorted(query(database_url, "SELECT thread_ts, is_active FROM coaching_sessions"))
    assert [bool(active) for _, active in sessions] == [False, True]
