"""The weekly report job: three replicas on one database post it once; failures are recorded."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, select

from bot.config import Settings
from bot.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from storage.models import chat_messages, coaching_sessions, job_runs

REPORT_CHANNEL = "C0REPORTS"
WAIT = 20.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def last_outcome(server: BackgroundServer, job: str) -> str | None:
    scheduler = server.runtime.scheduler
    assert scheduler is not None
    return next(j["last_outcome"] for j in scheduler.status() if j["id"] == job)


def seed_yesterday(database_url: str) -> None:
    """One session with a reply yesterday, so the report has something to show."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(coaching_sessions).values(
                    id=1,
                    team_id="T0DEVKIT",
                    channel_id="D1",
                    thread_ts="1.0",
                    user_id="U0COACH",
                    created_at=yesterday,
                    updated_at=yesterday,
                )
            )
            conn.execute(
                insert(chat_messages),
                [
                    {
                        "session_id": 1,
                        "message_type": "user",
                        "text": "hi",
                        "timestamp": yesterday,
                        "latency_ms": None,
                    },
                    {
                        "session_id": 1,
                        "message_type": "assistant",
                        "text": "hello",
                        "timestamp": yesterday,
                        "latency_ms": 1200,
                    },
                ],
            )
    finally:
        engine.dispose()


def claims_in(database_url: str) -> list[tuple[str, str | None]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return [(r.job, r.outcome) for r in conn.execute(select(job_runs))]
    finally:
        engine.dispose()


@pytest.fixture
def replicas(settings: Settings) -> Iterator[list[BackgroundServer]]:
    """Three app processes' worth of runtimes (servers, schedulers, pools) on one database."""
    report_settings = settings.with_overrides(report_channel_id=REPORT_CHANNEL)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(BackgroundServer(report_settings)) for _ in range(3)]


def test_three_replicas_sharing_a_database_post_the_weekly_report_once(
    replicas: list[BackgroundServer], slack_emulator: SlackEmulator, database_url: str
):
    seed_yesterday(database_url)

    for server in replicas:  # every replica's cron fires at the same moment
        server.runtime.scheduler.trigger("weekly_report")  # type: ignore[union-attr]
    wait_until(lambda: all(last_outcome(s, "weekly_report") for s in replicas), "all three runs")

    outcomes = sorted(last_outcome(s, "weekly_report") or "" for s in replicas)
    assert outcomes == ["ok", "skipped: claimed elsewhere", "skipped: claimed elsewhere"]
    assert len(slack_emulator.calls_to("files.completeUploadExternal")) == 1
    posts = slack_emulator.messages(REPORT_CHANNEL)
    assert len(posts) == 1
    assert posts[0].text.startswith("*Weekly coaching report*")
    assert "*Workspace T0DEVKIT*" in posts[0].text
    assert "Reply time: median 1.20 s" in posts[0].text
    assert posts[0].files and posts[0].files[0]["mimetype"] == "image/png"
    assert slack_emulator.file_bytes(posts[0].files[0]["id"]).startswith(b"\x89PNG")
    assert claims_in(database_url) == [("weekly_report", "ok")]


def test_without_a_report_channel_the_job_skips_without_claiming_the_week(
    coachbot: BackgroundServer, slack_emulator: SlackEmulator, database_url: str
):
    coachbot.runtime.scheduler.trigger("weekly_report")  # type: ignore[union-attr]
    wait_until(lambda: last_outcome(coachbot, "weekly_report") is not None, "the run")

    assert last_outcome(coachbot, "weekly_report") == "skipped: no REPORT_CHANNEL_ID"
    assert slack_emulator.calls_to("files.getUploadURLExternal") == []
    assert claims_in(database_url) == []


def test_a_slack_failure_is_the_runs_outcome_and_the_weeks_claim_records_it(
    settings: Settings, slack_emulator: SlackEmulator, database_url: str
):
    slack_emulator.fail("files.getUploadURLExternal", error="not_in_channel", status=200, retry_after=None)
    with BackgroundServer(settings.with_overrides(report_channel_id=REPORT_CHANNEL)) as server:
        server.runtime.scheduler.trigger("weekly_report")  # type: ignore[union-attr]
        wait_until(lambda: last_outcome(server, "weekly_report") is not None, "the run")

        assert last_outcome(server, "weekly_report") == "error: SlackApiError"
    assert claims_in(database_url) == [("weekly_report", "error: SlackApiError")]
    assert slack_emulator.messages(REPORT_CHANNEL) == []
