"""Wrap up sessions idle for SESSION_IDLE_HOURS: once per ten-minute slot across replicas.

Every replica's scheduler fires; the (job, slot) claim (``jobs.claims``) lets one of them scan.
Each session it finds is then claimed again on its own (``MemoryStore.claim_wrap_up``), so a
coach's Wrap up press racing the job still gives one summary. The winner prunes the job's
claims older than a week, so the 144 slots a day don't pile up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from jobs import claims

logger = logging.getLogger(__name__)

JOB = "idle_wrap_up"
SLOT_MINUTES = 10
#: How long a slot's claim row is kept (for /perf jobs and an operator's look), then pruned.
CLAIMS_KEPT = timedelta(days=7)


def slot_of(now: datetime) -> str:
    """The ten-minute slot ``now`` falls in, e.g. "2026-12-01T11:10"."""
    start = now.replace(minute=now.minute - now.minute % SLOT_MINUTES, second=0, microsecond=0)
    return start.strftime("%Y-%m-%dT%H:%M")


class IdleWrapUpJob:
    """``wrap(cutoff)`` wraps up the sessions quiet since ``cutoff`` and says how many."""

    def __init__(
        self, engine: Engine, *, idle_hours: float, claimed_by: str, wrap: Callable[[datetime], int]
    ) -> None:
        self._engine = engine
        self._idle = timedelta(hours=idle_hours)
        self._claimed_by = claimed_by
        self._wrap = wrap

    def run(self, now: datetime) -> str:
        slot = slot_of(now)
        if not claims.claim(self._engine, JOB, slot, self._claimed_by, now=now):
            return claims.CLAIMED_ELSEWHERE
        try:
            wrapped = self._wrap(now - self._idle)
        except Exception as error:
            claims.finish(
                self._engine, JOB, slot, self._claimed_by, f"{claims.FAILED_PREFIX}{type(error).__name__}"
            )
            raise
        outcome = f"wrapped up {wrapped} idle session(s)"
        claims.finish(self._engine, JOB, slot, self._claimed_by, outcome)
        claims.prune(self._engine, JOB, claimed_before=now - CLAIMS_KEPT)
        return outcome
