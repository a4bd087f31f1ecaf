"""Which jobs the app runs, wired to the Runtime's services; started by ``bot.assembly.app.build_runtime``.

- ``cache_cleanup`` every CACHE_CLEANUP_MINUTES, in every replica (each has its own caches);
- ``weekly_report`` on REPORT_DAY_OF_WEEK at REPORT_TIME in REPORT_TIMEZONE, once across replicas;
  ``weekly_report_retry`` every minute in every replica: a failed post is retried with back-off
  until it succeeds or the week ends, by one replica;
- ``retention_purge`` daily at 03:30 in REPORT_TIMEZONE unless RETENTION_DAYS is 0 (it defaults to
  365), once across replicas;
- ``uninstall_purge`` daily at 03:15 in REPORT_TIMEZONE with OAuth installs: the data of workspaces
  uninstalled more than UNINSTALL_RETENTION_DAYS ago, once across replicas;
- ``event_ledger_prune`` daily at 03:45 in REPORT_TIMEZONE: delivery claims and erasure records
  older than a week (idempotent, so every replica runs it);
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
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine

from bot.assembly.config import Settings, SettingsError
from bot.delivery.workspace_clients import WorkspaceClients
from bot.operations.report import WeeklyReport, post_weekly_report
from jobs import claims
from jobs.cache_cleanup import expire_caches
from jobs.checkins import INTERVAL_MINUTES as CHECKIN_INTERVAL_MINUTES
from jobs.checkins import CheckinJob
from jobs.database import create_jobs_engine
from jobs.event_ledger import prune_ledgers
from jobs.idle_wrap_up import SLOT_MINUTES, IdleWrapUpJob
from jobs.retention import DeletePrefix, run_retention_purge
from jobs.scheduler import JobScheduler
from jobs.uninstalls import run_uninstall_purge
from jobs.weekly_report import WeeklyReportJob
from storage.models import utcnow
from storage.workspaces import installed_teams, report_channels, retention_overrides


class AppServices(Protocol):
    """What the jobs need of the running app (``bot.assembly.app.Runtime`` is one).

    ``caches``, ``files`` and ``attachments`` are optional: the jobs that use them are added
    only when the app has them.
    """

    settings: Settings
    #: The only way a job gets a workspace's Slack client.
    workspace_clients: WorkspaceClients


logger = logging.getLogger(__name__)

PURGE_HOUR, PURGE_MINUTE = 3, 30
UNINSTALL_PURGE_MINUTE = 15
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


def weekly_report_jobs(
    settings: Settings,
    engine: Engine,
    claimed_by: str,
    poster: Callable[[str | None, str], Callable[[WeeklyReport, bytes], object]],
) -> list[WeeklyReportJob]:
    """The deployment's one report; with OAuth installs, one per installed workspace to its channel.

    A workspace's channel is the one its admins set (``/coach admin report``), else
    REPORT_CHANNEL_ID; each report holds that workspace's figures only, under its own claim.
    """
    zone = settings.report_timezone
    if not settings.oauth_installs:
        channel = settings.report_channel_id
        return [WeeklyReportJob(engine, channel, zone, claimed_by, poster(None, channel or ""))]
    own = report_channels(engine)
    jobs = []
    for team in installed_teams(engine):
        channel = own.get(team) or settings.report_channel_id
        jobs.append(
            WeeklyReportJob(engine, channel, zone, claimed_by, poster(team, channel or ""), team_id=team)
        )
    return jobs


def start_app_scheduler(runtime: AppServices, *, clock: Callable[[], datetime] | None = None) -> JobScheduler:
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

    def poster(team_id: str | None, channel: str) -> Callable[[WeeklyReport, bytes], None]:
        """Posts with the workspace's client (None: REPORT_CHANNEL_ID's, in single-token mode)."""

        async def post_to_workspace(report: WeeklyReport, chart: bytes) -> None:
            client = await runtime.workspace_clients.client_for(team_id)
            if client is None:
                raise RuntimeError("no Slack client for the report's workspace")
            await post_weekly_report(client, channel, report, chart)

        def post(report: WeeklyReport, chart: bytes) -> None:
            scheduler.run_on_loop(post_to_workspace(report, chart), timeout=POST_TIMEOUT_SECONDS)

        return post

    def every_report(step: Callable[[WeeklyReportJob], str]) -> str:
        jobs = weekly_report_jobs(settings, engine, claimed_by, poster)
        if not settings.oauth_installs:
            return step(jobs[0])  # one report: its failure is the run's
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(step(job))
            except Exception as error:  # one workspace's failure is its own claim's; the rest still post
                logger.warning("Weekly report for %s failed: %s", job.team_id, type(error).__name__)
                outcomes.append(f"error: {type(error).__name__}")
        return "; ".join(outcomes) or "skipped: no workspace installed"

    scheduler.add_cron_job(
        "weekly_report",
        lambda: every_report(lambda job: job.run(now())),
        day_of_week=day_of_week,
        hour=hour,
        minute=minute,
        timeout_seconds=POST_TIMEOUT_SECONDS + 60,
    )
    scheduler.add_interval_job(
        "weekly_report_retry",
        lambda: every_report(lambda job: job.retry(now())),
        minutes=REPORT_RETRY_CHECK_MINUTES,
        timeout_seconds=POST_TIMEOUT_SECONDS + 60,
    )
    files = getattr(runtime, "files", None)
    delete_files: DeletePrefix | None = None
    if files is not None:

        def delete_files(prefix: str) -> int:
            return scheduler.run_on_loop(files.delete_prefix(prefix), timeout=FILE_DELETE_TIMEOUT_SECONDS)

    if settings.oauth_installs and settings.uninstall_retention_days:
        uninstall_days = settings.uninstall_retention_days
        scheduler.add_cron_job(
            "uninstall_purge",
            lambda: run_uninstall_purge(
                engine,
                retention_days=uninstall_days,
                timezone=settings.report_timezone,
                claimed_by=claimed_by,
                now=now(),
                delete_files=delete_files,
            ),
            hour=PURGE_HOUR,
            minute=UNINSTALL_PURGE_MINUTE,
        )

    if settings.retention_days or settings.oauth_installs:  # OAuth: a workspace may set its own
        retention_days = settings.retention_days or 0
        per_team = (lambda: retention_overrides(engine)) if settings.oauth_installs else None

        scheduler.add_cron_job(
            "retention_purge",
            lambda: run_retention_purge(
                engine,
                retention_days=retention_days,
                timezone=settings.report_timezone,
                claimed_by=claimed_by,
                now=now(),
                delete_files=delete_files,
                per_team=per_team,
            ),
            hour=PURGE_HOUR,
            minute=PURGE_MINUTE,
        )

    scheduler.add_cron_job(
        "event_ledger_prune",
        lambda: prune_ledgers(engine, now=now()),
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
        clients = runtime.workspace_clients

        def wrap_idle(cutoff: datetime) -> int:
            return scheduler.run_on_loop(
                memory.wrap_up_idle(cutoff, clients), timeout=IDLE_WRAP_TIMEOUT_SECONDS
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
