"""The weekly report job: once per ISO week across all replicas, post the report to the channel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.report import WeeklyReport, build_weekly_report, render_chart
from jobs import claims

logger = logging.getLogger(__name__)

JOB = "weekly_report"

#: Posts a built report and its chart; blocking (the scheduler runs the upload on the app's loop).
PostReport = Callable[[WeeklyReport, bytes], object]


def iso_week(now: datetime, timezone: str | ZoneInfo) -> str:
    """The claim's period: the ISO week of ``now`` in the report's timezone, e.g. ``2026-W49``."""
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    year, week, _ = now.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def run_weekly_report(
    engine: Engine,
    *,
    channel: str | None,
    timezone: str,
    claimed_by: str,
    now: datetime,
    post: PostReport,
) -> str:
    """Claim this week, build the figures and chart, post them. Returns the run's outcome.

    A replica without a channel configured skips before claiming, so it never spends the week's
    claim on a report it cannot post.
    """
    if not channel:
        logger.info("Weekly report skipped: REPORT_CHANNEL_ID is not set")
        return "skipped: no REPORT_CHANNEL_ID"
    period = iso_week(now, timezone)
    if not claims.claim(engine, JOB, period, claimed_by, now=now):
        return claims.CLAIMED_ELSEWHERE
    try:
        report = build_weekly_report(engine, now=now, timezone=timezone)
        post(report, render_chart(report))
    except Exception as error:
        claims.finish(engine, JOB, period, claimed_by, f"error: {type(error).__name__}")
        raise
    claims.finish(engine, JOB, period, claimed_by, "ok")
    return "ok"
