"""The weekly report job: exactly once per ISO week across all replicas, post the report to the channel.

The cron run claims the week (``jobs.claims``). A failed post is retried by ``WeeklyReportJob.retry``,
which every replica runs every minute: once the attempt's back-off has passed, one replica takes
the failed claim over and posts the same report (the week as of the first attempt). Retries go on,
at most an hour apart, until a post succeeds or the week ends (a new ISO week is a new period).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.operations.report import WeeklyReport, build_weekly_report, render_chart
from jobs import claims

logger = logging.getLogger(__name__)

JOB = "weekly_report"
NO_CHANNEL = "skipped: no REPORT_CHANNEL_ID"
#: Wait after the n-th failed attempt: 1, 2, 5, 15, 30 minutes, then hourly until the week ends.
RETRY_BACKOFF = tuple(timedelta(minutes=m) for m in (1, 2, 5, 15, 30, 60))
_ATTEMPT = re.compile(r"\(attempt (\d+)\)$")

#: Posts a built report and its chart; blocking (the scheduler runs the upload on the app's loop).
PostReport = Callable[[WeeklyReport, bytes], object]


def iso_week(now: datetime, timezone: str | ZoneInfo) -> str:
    """The claim's period: the ISO week of ``now`` in the report's timezone, e.g. ``2026-W49``."""
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    year, week, _ = now.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class WeeklyReportJob:
    """One replica's weekly report: the cron run (``run``) and the minutely retry check (``retry``).

    A replica without a channel configured skips before claiming, so it never spends the week's
    claim on a report it cannot post.
    """

    engine: Engine
    channel: str | None
    timezone: str
    claimed_by: str
    post: PostReport
    #: OAuth installs: one workspace's report (its figures only, its own claim), else all at once.
    team_id: str | None = None

    @property
    def job(self) -> str:
        return f"{JOB}:{self.team_id}" if self.team_id else JOB

    def run(self, now: datetime) -> str:
        """Claim this week, build the figures and chart, post them. Returns the run's outcome."""
        if not self.channel:
            logger.info("Weekly report skipped: REPORT_CHANNEL_ID is not set")
            return NO_CHANNEL
        period = iso_week(now, self.timezone)
        if not claims.claim(self.engine, self.job, period, self.claimed_by, now=now):
            return claims.CLAIMED_ELSEWHERE
        return self._build_and_post(period, as_of=now, now=now, attempt=1)

    def retry(self, now: datetime) -> str:
        """Retry this week's failed post once its back-off has passed; the outcome of this check.

        Cheap when there is nothing to do (one indexed read), so every replica runs it every minute.
        """
        if not self.channel:
            return NO_CHANNEL
        period = iso_week(now, self.timezone)
        seen = claims.find(self.engine, self.job, period)
        if seen is None:
            return "skipped: not run this week yet"
        if not seen.failed:
            return "skipped: posted" if seen.outcome == "ok" else "skipped: an attempt is unfinished"
        attempt = failed_attempts(seen.outcome)
        assert seen.finished_at is not None  # a failed claim has finished
        due = seen.finished_at + RETRY_BACKOFF[min(attempt, len(RETRY_BACKOFF)) - 1]
        if now < due:
            return f"skipped: attempt {attempt + 1} not before {due:%Y-%m-%d %H:%M:%S} UTC"
        if not claims.reclaim_failed(self.engine, self.job, period, seen, self.claimed_by):
            return claims.CLAIMED_ELSEWHERE
        return self._build_and_post(period, as_of=seen.claimed_at, now=now, attempt=attempt + 1)

    def _build_and_post(self, period: str, *, as_of: datetime, now: datetime, attempt: int) -> str:
        """Build the report for the week before ``as_of`` and post it; the claim records how it ended."""
        try:
            report = build_weekly_report(self.engine, now=as_of, timezone=self.timezone)
            if self.team_id is not None:  # a workspace sees its own figures only
                report = report.of_team(self.team_id)
            self.post(report, render_chart(report))
        except Exception as error:
            outcome = f"{claims.FAILED_PREFIX}{type(error).__name__} (attempt {attempt})"
            claims.finish(self.engine, self.job, period, self.claimed_by, outcome, now=now)
            raise
        claims.finish(self.engine, self.job, period, self.claimed_by, "ok", now=now)
        return "ok"


def failed_attempts(outcome: str | None) -> int:
    """How many attempts a failed claim's outcome counts (``error: X (attempt 3)`` → 3)."""
    found = _ATTEMPT.search(outcome or "")
    return int(found.group(1)) if found else 1
