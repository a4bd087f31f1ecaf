"""Which jobs the app runs, wired to the Runtime's services; started by ``bot.assembly.app.build_runtime``.

- ``cache_cleanup`` every CACHE_CLEANUP_MINUTES, in every replica (each has its own caches);
- ``weekly_report`` on REPORT_DAY_OF_WEEK at REPORT_TIME in REPORT_TIMEZONE, once across replicas;
  ``weekly_report_retry`` every minute in every replica: a failed post is retried with back-off
  until it succeeds or the week ends, by one replica;
- ``retention_purge`` daily at 03:30 in REPORT_TIMEZONE when RETENTION_DAYS is set, once across
  replicas;
- ``event_ledger_prune`` daily at 03:45 in REPORT_TIMEZONE: delivery claims older than a week
  (idempotent, so every replica runs it);
- ``checkins`` every 5 minutes in every replica: a check-in DM for each commitment due, in the
  coach's working hours, once across replicas (``jobs.checkins``);
- ``idle_wrap_up`` every 10 minutes when the Runtime has memory: sessions without a message for
  SESSION_IDLE_HOURS are wrapped up, by one replica per ten-minute slot;
- ``attachment_retry`` every 10 minutes when the Runtime has an attachments service with
  ``retry_failed``, in every replica (the service claims the rows it retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.assembly.config import Settings, SettingsError
from bot.operations.report import WeeklyReport, post_weekly_report
from jobs import claims
from jobs.cache_cleanup import expire_caches
from jobs.checkins import INTERVAL_MINUTES as CHECKIN_INTERVAL_MINUTES
from jobs.checkins import CheckinJob
from jobs.database import create_jobs_engine
from jobs.event_ledger import prune_processed_events
from jobs.idle_wrap_up import SLOT_MINUTES, IdleWrapUpJob
from jobs.retention import DeletePrefix, run_retention_purge
from jobs.scheduler import JobScheduler
from jobs.weekly_report import WeeklyReportJob
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.assembly.app import Runtime

logger = logging.getLogger(__name__)

PURGE_HOUR, PURGE_MINUTE = 3, 30
LEDGER_PRUNE_MINUTE = 45
ATTACHMENT_RETRY_MINUTES = 10
REPORT_RETRY_CHECK_MINUTES = 1
#: The chart upload is three Slack calls; with slack_sdk's retries this is generous.
POST_TIMEOUT_SECONDS = 120.0
FILE_DELETE_TIMEOUT_SECONDS = 60.0
#: One users.info call, or conversations.open plus chat.postMessage, with slack_sdk's retries.
CHECKIN_CALL_TIMEOUT_SECONDS = 60.0
#: A batch of idle wrap-ups: each is one model call and one Slack post.
IDLE_WRAP_TIMEOUT_SECONDS = 300.0


def report_schedule(settings: Settings) -> tuple[str, int, int]:
    """(day_of_week, hour, minute) from the settings; a SettingsError naming the bad one."""
    try:
        ZoneInfo(settings.report_timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        zone = settings.report_timezone
        raise SettingsError(f"REPORT_TIMEZONE {zone!r} is not a known timezone") from error
    hour_text, _, minute_text = settings.report_time.partition(":")
    try:
        hour, minute = int(hour_text), int(minute_text)
    except ValueError:
        hour = minute = -1
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise SettingsError(f"REPORT_TIME must be HH:MM (24-hour), got {settings.report_time!r}")
    return settings.report_day_of_week, hour, minute


def start_app_scheduler(runtime: Runtime, *, clock: Callable[[], datetime] | None = None) -> JobScheduler:
    """Build and start the app's scheduler inside the running event loop; Runtime.close stops it."""
    settings = runtime.settings
    day_of_week, hour, minute = report_schedule(settings)
    # The Runtime's clock, read at each run, so a test can set it after start-up.
    now = clock or (lambda: getattr(runtime, "clock", utcnow)())
    engine = create_jobs_engine(settings.database_url)
    scheduler = JobScheduler(timezone=settings.report_timezone, loop=asyncio.get_running_loop())
    scheduler.on_shutdown(engine.dispose)
    claimed_by = claims.replica_id()

    caches = getattr(runtime, "caches", None)
    if caches is not None:
        scheduler.add_interval_job(
            "cache_cleanup", lambda: expire_caches(caches), minutes=settings.cache_cleanup_minutes
        )

    def post(report: WeeklyReport, chart: bytes) -> None:
        channel = settings.report_channel_id or ""
        scheduler.run_on_loop(
            post_weekly_report(runtime.slack_client, channel, report, chart), timeout=POST_TIMEOUT_SECONDS
        )

    report = WeeklyReportJob(
        engine,
        channel=settings.report_channel_id,
        timezone=settings.report_timezone,
        claimed_by=claimed_by,
        post=post,
    )
    scheduler.add_cron_job(
        "weekly_report",
        lambda: report.run(now()),
        day_of_week=day_of_week,
        hour=hour,
        minute=minute,
        timeout_seconds=POST_TIMEOUT_SECONDS + 60,
    )
    scheduler.add_interval_job(
        "weekly_report_retry",
        lambda: report.retry(now()),
        minutes=REPORT_RETRY_CHECK_MINUTES,
        timeout_seconds=POST_TIMEOUT_SECONDS + 60,
    )

    if settings.retention_days:
        retention_days = settings.retention_days
        files = getattr(runtime, "files", None)
        delete_files: DeletePrefix | None = None
        if files is not None:

            def delete_files(prefix: str) -> int:
                return scheduler.run_on_loop(files.delete_prefix(prefix), timeout=FILE_DELETE_TIMEOUT_SECONDS)

        scheduler.add_cron_job(
            "retention_purge",
            lambda: run_retention_purge(
                engine,
                retention_days=retention_days,
                timezone=settings.report_timezone,
                claimed_by=claimed_by,
                now=now(),
                delete_files=delete_files,
            ),
            hour=PURGE_HOUR,
            minute=PURGE_MINUTE,
        )

    scheduler.add_cron_job(
        "event_ledger_prune",
        lambda: prune_processed_events(engine, now=now()),
        hour=PURGE_HOUR,
        minute=LEDGER_PRUNE_MINUTE,
    )

    checkins = getattr(runtime, "checkins", None)
    if checkins is not None:
        checkin_job = CheckinJob(
            engine,
            claimed_by=claimed_by,
            checkin_days=settings.checkin_days,
            zone_of=lambda team_id, user_id: scheduler.run_on_loop(
                checkins.zones.zone(team_id, user_id), timeout=CHECKIN_CALL_TIMEOUT_SECONDS
            ),
            send=lambda due: scheduler.run_on_loop(checkins.send(due), timeout=CHECKIN_CALL_TIMEOUT_SECONDS),
        )
        scheduler.add_interval_job(
            "checkins", lambda: checkin_job.run(now()), minutes=CHECKIN_INTERVAL_MINUTES
        )

    memory = getattr(runtime, "memory", None)
    if memory is not None:
        client = runtime.slack_client

        def wrap_idle(cutoff: datetime) -> int:
            return scheduler.run_on_loop(
                memory.wrap_up_idle(cutoff, client), timeout=IDLE_WRAP_TIMEOUT_SECONDS
            )

        idle = IdleWrapUpJob(
            engine, idle_hours=settings.session_idle_hours, claimed_by=claimed_by, wrap=wrap_idle
        )
        scheduler.add_interval_job(
            "idle_wrap_up",
            lambda: idle.run(now()),
            minutes=SLOT_MINUTES,
            timeout_seconds=IDLE_WRAP_TIMEOUT_SECONDS + 60,
        )

    retry_failed = getattr(getattr(runtime, "attachments", None), "retry_failed", None)
    if callable(retry_failed):
        scheduler.add_interval_job("attachment_retry", retry_failed, minutes=ATTACHMENT_RETRY_MINUTES)

    return scheduler.start()
