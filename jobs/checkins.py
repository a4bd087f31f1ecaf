"""The check-in job: DM each coach whose commitment is due, in their working hours, once.

Every replica runs it every few minutes. For each open commitment whose next check-in may be
due (``storage.checkins.due_checkins``), it looks up the coach's Slack timezone (cached), and
only on a weekday between 9:00 and 17:00 there, on or after the due date, claims the
(commitment, round) in ``job_runs`` (``jobs.claims``): of several replicas exactly one wins and
posts the DM, a retried or overlapping run finds the claim taken and posts nothing. The sent
check-in is stored after the post; a post that failed is retried by a later run (one replica
takes the failed claim over, at most ``MAX_ATTEMPTS`` times, ``RETRY_AFTER`` apart). A replica
that died mid-post keeps its claim unfinished: a second DM is worse than none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Engine

from bot.checkins.schedule import MAX_ROUNDS
from bot.checkins.working_hours import CoachTime
from jobs import claims
from jobs.scheduler import skipped
from jobs.weekly_report import failed_attempts
from storage.checkins import CHECKIN_JOB, DueCheckin, due_checkins, record_sent

logger = logging.getLogger(__name__)

JOB = CHECKIN_JOB
INTERVAL_MINUTES = 5
RETRY_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 5

#: The coach's timezone (users.info, cached); blocking (the job hands it to the app's loop).
ZoneOf = Callable[[str, str], tzinfo]
#: Posts the check-in DM; (channel, ts). Blocking, like ``ZoneOf``.
SendCheckin = Callable[[DueCheckin], tuple[str, str]]


@dataclass(frozen=True)
class CheckinJob:
    """One replica's check-in run; ``run(now)`` returns the run's outcome."""

    engine: Engine
    claimed_by: str
    checkin_days: int
    zone_of: ZoneOf
    send: SendCheckin

    def run(self, now: datetime) -> str:
        with self.engine.connect() as connection:
            candidates = due_checkins(
                connection, now=now, checkin_days=self.checkin_days, max_rounds=MAX_ROUNDS
            )
        sent = waiting = elsewhere = failed = 0
        for due in candidates:
            try:
                coach = CoachTime.at(now, self.zone_of(due.team_id, due.user_id))
            except Exception as error:  # users.info failed: this coach waits for the next run
                logger.warning(
                    "Check-in %s: no timezone for the coach (%s)", due.period, type(error).__name__
                )
                waiting += 1
                continue
            local_due = due.due_at.astimezone(coach.local.tzinfo).date() if due.due_at else None
            if not due.is_due_on(coach.today, local_due):
                continue
            if not coach.in_working_hours:
                waiting += 1
                continue
            attempt = self._claim(due, now)
            if not attempt:
                elsewhere += 1
            elif self._send(due, now, attempt):
                sent += 1
            else:
                failed += 1
        if failed:
            return (
                f"error: {failed} not sent ({sent} sent); retried after {RETRY_AFTER.seconds // 60} minutes"
            )
        if sent:
            return "ok"
        if waiting:
            return skipped(f"none sent ({waiting} waiting for working hours)")
        return claims.CLAIMED_ELSEWHERE if elsewhere else skipped("none due")

    def _claim(self, due: DueCheckin, now: datetime) -> int:
        """The attempt this replica now owns (1 for a fresh claim, n for a failed one taken over);
        0 when it owns nothing."""
        if claims.claim(self.engine, JOB, due.period, self.claimed_by, now=now):
            return 1
        seen = claims.find(self.engine, JOB, due.period)
        if seen is None or not seen.failed or seen.finished_at is None:
            return 0  # sent, or being sent, or its sender died mid-way
        failed = failed_attempts(seen.outcome)
        if failed >= MAX_ATTEMPTS or now < seen.finished_at + RETRY_AFTER:
            return 0
        return failed + 1 if claims.reclaim_failed(self.engine, JOB, due.period, seen, self.claimed_by) else 0

    def _send(self, due: DueCheckin, now: datetime, attempt: int) -> bool:
        try:
            channel, ts = self.send(due)
        except Exception as error:
            outcome = f"{claims.FAILED_PREFIX}{type(error).__name__} (attempt {attempt})"
            claims.finish(self.engine, JOB, due.period, self.claimed_by, outcome, now=now)
            logger.warning("Check-in %s not sent: %s", due.period, type(error).__name__)
            return False
        with self.engine.connect() as connection:
            record_sent(connection, due, channel_id=channel, message_ts=ts, now=now)
        claims.finish(self.engine, JOB, due.period, self.claimed_by, "ok", now=now)
        logger.info("Check-in %s sent", due.period)
        return True
