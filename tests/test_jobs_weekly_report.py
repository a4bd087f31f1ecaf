"""The weekly report job: exactly once a week across replicas; a failed post is retried with back-off."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine, create_engine, insert, select

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.operations.report import WeeklyReport, post_weekly_report
from devkit.slack_emulator import SlackEmulator
from jobs import claims
from jobs.database import create_jobs_engine
from jobs.weekly_report import WeeklyReportJob, iso_week
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
    assert claims_in(database_url) == [("weekly_report", "error: SlackApiError (attempt 1)")]
    assert slack_emulator.messages(REPORT_CHANNEL) == []


# ------------------------------------------------------------------ retries, the jobs run directly

# The first attempt's time: today, so that seed_yesterday's session is in the week it reports.
FIRST_RUN = datetime.now(UTC).replace(microsecond=0)
ZONE = "Europe/Berlin"


@pytest.fixture
def jobs_engine(database_url: str) -> Iterator[Engine]:
    engine = create_jobs_engine(database_url)
    yield engine
    engine.dispose()


def poster(slack: SlackEmulator) -> Callable[[WeeklyReport, bytes], object]:
    """What the scheduler's post does, against the emulator: files_upload_v2 on its own loop."""

    def post(report: WeeklyReport, chart: bytes) -> object:
        async def upload() -> str:
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
            try:
                return await post_weekly_report(client, REPORT_CHANNEL, report, chart)
            finally:
                if client.session is not None:
                    await client.session.close()

        return asyncio.run(upload())

    return post


def job(which: str, engine: Engine, slack: SlackEmulator, replica: str, now: datetime) -> str:
    """A replica's weekly report ``run`` or ``retry``, as its scheduler calls it; an error as its outcome."""
    report = WeeklyReportJob(
        engine, channel=REPORT_CHANNEL, timezone=ZONE, claimed_by=replica, post=poster(slack)
    )
    try:
        return getattr(report, which)(now)
    except SlackApiError as error:
        return f"error: {type(error).__name__}"


def test_a_failed_post_is_retried_after_its_back_off_and_posted_once(
    jobs_engine: Engine, slack_emulator: SlackEmulator, database_url: str
):
    seed_yesterday(database_url)
    slack_emulator.fail(
        "files.getUploadURLExternal", error="internal_error", status=200, retry_after=None, times=2
    )

    assert job("run", jobs_engine, slack_emulator, "a", FIRST_RUN) == "error: SlackApiError"
    early = job("retry", jobs_engine, slack_emulator, "b", FIRST_RUN + timedelta(seconds=30))
    assert early.startswith("skipped: attempt 2 not before")
    assert job("retry", jobs_engine, slack_emulator, "b", FIRST_RUN + timedelta(minutes=1)) == (
        "error: SlackApiError"
    )
    assert claims_in(database_url) == [("weekly_report", "error: SlackApiError (attempt 2)")]
    waiting = job("retry", jobs_engine, slack_emulator, "a", FIRST_RUN + timedelta(minutes=2))
    assert waiting.startswith("skipped: attempt 3 not before")  # the second wait is longer
    assert job("retry", jobs_engine, slack_emulator, "a", FIRST_RUN + timedelta(minutes=4)) == "ok"

    assert claims_in(database_url) == [("weekly_report", "ok")]
    posts = slack_emulator.messages(REPORT_CHANNEL)
    assert len(posts) == 1
    assert "Reply time: median 1.20 s" in posts[0].text  # the week as of the first attempt
    later = FIRST_RUN + timedelta(hours=3)
    assert job("retry", jobs_engine, slack_emulator, "b", later) == "skipped: posted"
    assert len(slack_emulator.calls_to("files.completeUploadExternal")) == 1


def test_three_replicas_retrying_at_once_post_the_report_once(
    database_url: str, slack_emulator: SlackEmulator, jobs_engine: Engine
):
    seed_yesterday(database_url)
    slack_emulator.fail("files.getUploadURLExternal", error="internal_error", status=200, retry_after=None)
    assert job("run", jobs_engine, slack_emulator, "a", FIRST_RUN) == "error: SlackApiError"
    engines = [create_jobs_engine(database_url) for _ in range(3)]
    at_once = threading.Barrier(3)

    def retry(replica: int) -> str:
        at_once.wait()
        return job(
            "retry", engines[replica], slack_emulator, f"replica-{replica}", FIRST_RUN + timedelta(minutes=5)
        )

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            outcomes = list(pool.map(retry, range(3), timeout=30))
    finally:
        for engine in engines:
            engine.dispose()

    # the others lost the re-claim, or read the claim once the winner had taken it over
    assert len(outcomes) == 3 and outcomes.count("ok") == 1
    assert {o for o in outcomes if o != "ok"} <= {
        "skipped: claimed elsewhere",
        "skipped: an attempt is unfinished",
    }
    assert len(slack_emulator.messages(REPORT_CHANNEL)) == 1


def test_a_week_that_ended_is_not_retried(
    jobs_engine: Engine, slack_emulator: SlackEmulator, database_url: str
):
    slack_emulator.fail("files.getUploadURLExternal", error="internal_error", status=200, retry_after=None)
    assert job("run", jobs_engine, slack_emulator, "a", FIRST_RUN) == "error: SlackApiError"

    next_week = FIRST_RUN + timedelta(days=7)
    assert job("retry", jobs_engine, slack_emulator, "a", next_week) == "skipped: not run this week yet"
    assert slack_emulator.messages(REPORT_CHANNEL) == []


def test_an_unfinished_attempt_is_never_taken_over(jobs_engine: Engine, slack_emulator: SlackEmulator):
    week = iso_week(FIRST_RUN, ZONE)
    assert claims.claim(jobs_engine, "weekly_report", week, "crashed-replica", now=FIRST_RUN)

    later = FIRST_RUN + timedelta(hours=1)
    outcome = job("retry", jobs_engine, slack_emulator, "b", later)

    assert outcome == "skipped: an attempt is unfinished"  # its post may have reached Slack
    assert slack_emulator.calls_to("files.getUploadURLExternal") == []
