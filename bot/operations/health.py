"""The process's record of configuration problems: which setting, since when, last seen.

A refused API key, an unknown model or a missing Slack scope is not an outage: sending the
message again will never work, someone has to change a setting. Whoever meets such an error
records it here (``ConfigHealth.record``); the record logs one ERROR naming the setting the
first time (and once an hour while it lasts, never once per turn), tells the admins through
``on_announce`` at the same moments, and feeds ``/readyz`` and ``/perf``.

Nothing recorded holds a token or message text: problems are built from error codes only
(see ``bot.operations.config_errors``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: A problem seen within this window keeps /readyz at 503 and shows in /perf.
RECENT_SECONDS = 15 * 60
#: While a problem lasts, its ERROR line and the admins' DM are repeated at most this often.
ANNOUNCE_EVERY_SECONDS = 60 * 60


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration, built from error codes (never an error's text)."""

    service: str  # "openai" or "slack": which service's success clears it
    setting: str  # the setting to change: OPENAI_API_KEY, SLACK_BOT_TOKEN, …
    code: str  # what the service said: "401 invalid_api_key", "missing_scope files:write", …
    reason: str  # one sentence for an operator

    @property
    def key(self) -> tuple[str, str]:
        return (self.setting, self.code)

    def line(self) -> str:
        return f"{self.setting}: {self.reason}"


@dataclass
class ProblemRecord:
    problem: ConfigProblem
    first_seen: float
    last_seen: float
    count: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "setting": self.problem.setting,
            "service": self.problem.service,
            "code": self.problem.code,
            "reason": self.problem.reason,
            "since": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "count": self.count,
        }


class ConfigHealth:
    """Configuration problems seen by this process; thread-safe (/perf collects in a thread)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        recent_seconds: float = RECENT_SECONDS,
        announce_every: float = ANNOUNCE_EVERY_SECONDS,
    ) -> None:
        self._clock = clock
        self._recent = recent_seconds
        self._announce_every = announce_every
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], ProblemRecord] = {}
        # Kept when a problem is resolved, so one that flaps is still announced once an hour.
        self._announced: dict[tuple[str, str], float] = {}
        #: Called (outside the lock) each time a problem is announced: the admins' DM.
        self.on_announce: Callable[[ConfigProblem], None] | None = None

    def record(self, problem: ConfigProblem) -> None:
        """Note that ``problem`` happened now; log and announce it unless that was done lately."""
        now = self._clock()
        with self._lock:
            record = self._records.get(problem.key)
            if record is None:
                record = self._records[problem.key] = ProblemRecord(problem, now, now, 0)
            record.count += 1
            record.last_seen = now
            last_announced = self._announced.get(problem.key)
            announce = last_announced is None or now - last_announced >= self._announce_every
            if announce:
                self._announced[problem.key] = now
            count, since = record.count, record.first_seen
        if not announce:
            return
        logger.error(
            "Configuration problem: %s (seen %d time%s since %s; not an outage: fix the setting)",
            problem.line(),
            count,
            "" if count == 1 else "s",
            _iso(since),
        )
        if self.on_announce is not None:
            try:
                self.on_announce(problem)
            except Exception:  # telling the admins must never break the caller's error path
                logger.exception("Could not announce a configuration problem")

    def resolve(self, service: str, *, keep: Callable[[ConfigProblem], bool] = lambda _: False) -> None:
        """``service`` just worked: forget its problems (except those ``keep`` says still hold)."""
        with self._lock:
            if not self._records:
                return
            for key, record in list(self._records.items()):
                if record.problem.service == service and not keep(record.problem):
                    del self._records[key]

    def recent(self) -> list[ProblemRecord]:
        """Problems seen within the last ``recent_seconds``, oldest first."""
        cutoff = self._clock() - self._recent
        with self._lock:
            records = [r for r in self._records.values() if r.last_seen >= cutoff]
        return sorted(records, key=lambda r: r.first_seen)

    def snapshot(self) -> list[dict[str, Any]]:
        return [record.as_json() for record in self.recent()]


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
