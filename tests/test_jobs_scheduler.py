"""The job scheduler: starts and stops with the app, runs jobs off the loop, reports each outcome."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace

import pytest

from bot.assembly.config import Settings, SettingsError
from bot.assembly.serve import BackgroundServer
from jobs.app_jobs import report_schedule, start_app_scheduler
from jobs.scheduler import JobScheduler, skipped

WAIT = 10.0  # seconds a test waits for something that should happen at once


@pytest.fixture
def app_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread, standing in for the app's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)
    loop.close()


def blocking_job(inside: threading.Event, release: threading.Event):
    """A job that signals it has started, then waits to be released."""

    def job() -> None:
        inside.set()
        release.wait(WAIT)

    return job


def scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "APScheduler"]


def test_each_run_records_its_outcome_and_timing():
    scheduler = JobScheduler()
    scheduler.add_interval_job("works", lambda: None, minutes=5)
    scheduler.add_interval_job("declines", lambda: skipped("claimed elsewhere"), minutes=5)
    scheduler.add_interval_job("breaks", lambda: 1 / 0, minutes=5)

    assert scheduler.run_now("works") == "ok"
    assert scheduler.run_now("declines") == "skipped: claimed elsewhere"
    assert scheduler.run_now("breaks") == "error: ZeroDivisionError"

    status = {job["id"]: job for job in scheduler.status()}
    assert [status[name]["last_outcome"] for name in ("works", "declines", "breaks")] == [
        "ok",
        "skipped: claimed elsewhere",
        "error: ZeroDivisionError",
    ]
    assert status["breaks"]["errors"] == 1 and status["works"]["runs"] == 1
    assert all(job["last_duration_ms"] >= 0 for job in status.values())
    assert datetime.fromisoformat(status["works"]["last_run_at"]).tzinfo is not None


def test_a_job_never_runs_twice_at_once():
    scheduler = JobScheduler()
    inside, release = threading.Event(), threading.Event()
    scheduler.add_interval_job("slow", blocking_job(inside, release), minutes=5)
    first = threading.Thread(target=scheduler.run_now, args=("slow",))
    first.start()
    assert inside.wait(WAIT)

    assert scheduler.run_now("slow") == "skipped: already running"

    release.set()
    first.join(WAIT)


def test_async_jobs_run_on_the_apps_event_loop(app_loop: asyncio.AbstractEventLoop):
    scheduler = JobScheduler(loop=app_loop)
    ran_on: list[asyncio.AbstractEventLoop] = []

    async def job() -> int:  # e.g. AttachmentService.retry_failed: how many it retried
        ran_on.append(asyncio.get_running_loop())
        return 3

    scheduler.add_interval_job("async", job, minutes=10)

    assert scheduler.run_now("async") == "ok"
    assert ran_on == [app_loop]


def test_a_coroutine_that_outlasts_its_timeout_is_cancelled_and_reported(app_loop: asyncio.AbstractEventLoop):
    scheduler = JobScheduler(loop=app_loop)
    cancelled = threading.Event()

    async def hangs() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler.add_interval_job("hangs", hangs, minutes=10, timeout_seconds=0.05)

    assert scheduler.run_now("hangs") == "error: TimeoutError"
    assert cancelled.wait(WAIT)


def test_a_triggered_job_runs_in_the_schedulers_worker_thread():
    scheduler = JobScheduler()
    ran = threading.Event()
    threads: list[str] = []

    def job() -> None:
        threads.append(threading.current_thread().name)
        ran.set()

    scheduler.add_interval_job("soon", job, minutes=60)
    scheduler.start()
    try:
        before = scheduler.status()[0]["next_run"]
        scheduler.trigger("soon")
        assert ran.wait(WAIT)
    finally:
        scheduler.shutdown()
    assert threads and threads[0] != threading.main_thread().name
    assert before is not None


def test_shutdown_waits_briefly_for_a_running_job():
    scheduler = JobScheduler()
    inside, release = threading.Event(), threading.Event()
    scheduler.add_interval_job("busy", blocking_job(inside, release), minutes=60)
    scheduler.start()
    scheduler.trigger("busy")
    assert inside.wait(WAIT)

    assert scheduler.shutdown(timeout=0.05) is False  # gave up waiting: the job was still running
    release.set()
    assert not scheduler.running


def test_the_scheduler_starts_and_stops_with_the_server(settings: Settings):
    with BackgroundServer(settings.with_overrides(report_time="09:30")) as server:
        scheduler = server.runtime.scheduler
        assert scheduler is not None and scheduler.running
        jobs = {job["id"]: job for job in scheduler.status()}
        assert {"cache_cleanup", "weekly_report"} <= set(jobs)
        assert "retention_purge" in jobs  # RETENTION_DAYS defaults to 365
        next_report = datetime.fromisoformat(jobs["weekly_report"]["next_run"])
        assert (next_report.weekday(), next_report.hour, next_report.minute) == (0, 9, 30)
        assert jobs["cache_cleanup"]["last_outcome"] is None

    assert not scheduler.running
    assert scheduler_threads() == []
    assert all(job["next_run"] is None for job in scheduler.status())


def test_retention_days_zero_keeps_everything_so_no_purge_is_scheduled(settings: Settings):
    with BackgroundServer(settings.with_overrides(retention_days=0)) as server:
        scheduler = server.runtime.scheduler
        assert scheduler is not None
        assert "retention_purge" not in scheduler.job_names


def test_no_scheduler_when_it_is_disabled(settings: Settings):
    with BackgroundServer(settings.with_overrides(scheduler_enabled=False)) as server:
        assert server.runtime.scheduler is None


@pytest.mark.parametrize(
    ("change", "named"),
    [({"report_time": "9am"}, "REPORT_TIME"), ({"report_timezone": "Mars/Olympus"}, "REPORT_TIMEZONE")],
)
def test_a_bad_report_schedule_is_named_at_start(change: dict[str, str], named: str):
    with pytest.raises(SettingsError, match=named):
        report_schedule(Settings(**change))


async def test_failed_attachment_uploads_are_retried_every_ten_minutes_on_the_apps_loop(
    sqlite_database_url: str,
):
    loop = asyncio.get_running_loop()
    calls: list[asyncio.AbstractEventLoop] = []

    class Attachments:
        async def retry_failed(self) -> int:
            calls.append(asyncio.get_running_loop())
            return 2

    runtime = SimpleNamespace(settings=Settings(database_url=sqlite_database_url), attachments=Attachments())
    scheduler = start_app_scheduler(runtime)  # type: ignore[arg-type]
    try:
        job = next(j for j in scheduler.status() if j["id"] == "attachment_retry")
        outcome = await asyncio.to_thread(scheduler.run_now, "attachment_retry")
    finally:
        await scheduler.aclose()

    assert job["trigger"] == "interval[0:10:00]"
    assert outcome == "ok"
    assert calls == [loop]
