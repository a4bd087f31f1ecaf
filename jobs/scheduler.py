"""coachbot's job scheduler: APScheduler 3's BackgroundScheduler plus the bookkeeping /perf shows.

Jobs run in the scheduler's worker threads, never on the event loop, so a report that takes a
second to aggregate and draw holds up no coaching turn. A job that needs one of the app's async
services (the Slack client, the file store) hands just that coroutine to the app's loop with
``run_on_loop`` (``asyncio.run_coroutine_threadsafe`` with a timeout); an ``async def`` job is run
that way as a whole. Database work in jobs uses the jobs' own small synchronous engine (see
``jobs.database``), not the app's pool, which stays free for turns.

Every run goes through one wrapper that records when it ran, how long it took and how it ended:
``ok``, ``skipped: <why>`` (e.g. claimed elsewhere) or ``error: <exception type>``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A job returns an outcome string such as "skipped: no channel"; anything else (None, a count)
#: means "ok".
JobFunc = Callable[[], Any]  # sync, or async (run on the app's loop)

OK = "ok"
SKIPPED_ALREADY_RUNNING = "skipped: already running"
WORKER_THREADS = 4
#: How late an interval job may still start (a busy pool, a suspended VM); later runs coalesce.
INTERVAL_MISFIRE_GRACE_SECONDS = 120
#: A daily or weekly job that is an hour late is still worth doing once.
CRON_MISFIRE_GRACE_SECONDS = 3600
DEFAULT_JOB_TIMEOUT_SECONDS = 300.0


def skipped(reason: str) -> str:
    """The outcome of a run that decided not to do its work, e.g. ``skipped("claimed elsewhere")``."""
    return f"skipped: {reason}"


@dataclass
class _Job:
    name: str
    func: JobFunc
    timeout: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: int = 0
    errors: int = 0
    last_run_at: datetime | None = None
    last_duration_ms: float | None = None
    last_outcome: str | None = None


class JobScheduler:
    """A BackgroundScheduler whose jobs report their last outcome; ``status()`` feeds /perf.

    ``loop`` is the app's event loop (for ``run_on_loop`` and ``async def`` jobs); ``clock`` gives
    "now" for the status records. Jobs are added before or after ``start()``.
    """

    def __init__(
        self,
        *,
        timezone: str | tzinfo = "UTC",
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.timezone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._loop = loop
        self._clock = clock or (lambda: datetime.now(self.timezone))
        self._jobs: dict[str, _Job] = {}
        self._running = 0
        self._idle = threading.Condition()
        self._closing = False
        self._on_shutdown: list[Callable[[], None]] = []
        self._scheduler = BackgroundScheduler(
            timezone=self.timezone,
            executors={"default": ThreadPoolExecutor(WORKER_THREADS)},
            job_defaults={
                "coalesce": True,  # a backlog of missed runs becomes one run
                "max_instances": 1,
                "misfire_grace_time": INTERVAL_MISFIRE_GRACE_SECONDS,
            },
        )

    # ----------------------------------------------------------------- jobs

    def add_interval_job(
        self,
        name: str,
        func: JobFunc,
        minutes: float,
        *,
        timeout_seconds: float = DEFAULT_JOB_TIMEOUT_SECONDS,
    ) -> None:
        """Run ``func`` every ``minutes`` (first run one interval after start), in every replica."""
        self._add(name, func, IntervalTrigger(minutes=minutes, timezone=self.timezone), timeout_seconds)

    def add_cron_job(
        self,
        name: str,
        func: JobFunc,
        *,
        day_of_week: str = "*",
        hour: int,
        minute: int,
        timezone: str | tzinfo | None = None,
        timeout_seconds: float = DEFAULT_JOB_TIMEOUT_SECONDS,
    ) -> None:
        """Run ``func`` at a wall-clock time (in ``timezone``, DST-aware), e.g. Mondays 09:00."""
        zone = ZoneInfo(timezone) if isinstance(timezone, str) else (timezone or self.timezone)
        trigger = CronTrigger(day_of_week=day_of_week, hour=hour, minute=minute, timezone=zone)
        self._add(name, func, trigger, timeout_seconds, misfire_grace_time=CRON_MISFIRE_GRACE_SECONDS)

    def _add(self, name: str, func: JobFunc, trigger: BaseTrigger, timeout: float, **options: Any) -> None:
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} already exists")
        self._jobs[name] = _Job(name, func, timeout)
        self._scheduler.add_job(self._run, trigger, args=[name], id=name, name=name, **options)

    @property
    def job_names(self) -> list[str]:
        return list(self._jobs)

    # ----------------------------------------------------------------- running

    def run_now(self, name: str) -> str:
        """Run a job in the calling thread (tests, the CLI) with the same bookkeeping; its outcome."""
        return self._run(name)

    def trigger(self, name: str) -> None:
        """Have the scheduler run a job as soon as it can, as if its time had come."""
        self._scheduler.modify_job(name, next_run_time=datetime.now(self.timezone))

    def _run(self, name: str) -> str:
        job = self._jobs[name]
        if not job.lock.acquire(blocking=False):  # run_now racing a scheduled run
            return SKIPPED_ALREADY_RUNNING
        with self._idle:
            self._running += 1
        began_at, began = self._clock(), time.perf_counter()
        try:
            result = self._call(job)
            outcome = result if isinstance(result, str) and result else OK  # e.g. a count: ok
        except Exception as error:  # the job's boundary: record it, log it, keep the scheduler going
            outcome = f"error: {type(error).__name__}"
            job.errors += 1
            logger.error("Job %s failed: %s", name, type(error).__name__, exc_info=True)
        finally:
            job.lock.release()
            with self._idle:
                self._running -= 1
                self._idle.notify_all()
        job.runs += 1
        job.last_run_at = began_at
        job.last_duration_ms = (time.perf_counter() - began) * 1000
        job.last_outcome = outcome
        return outcome

    def _call(self, job: _Job) -> str | None:
        if inspect.iscoroutinefunction(job.func):
            return self.run_on_loop(job.func(), timeout=job.timeout)  # type: ignore[arg-type]
        result = job.func()
        if inspect.isawaitable(result):
            return self.run_on_loop(result, timeout=job.timeout)  # type: ignore[arg-type]
        return result  # type: ignore[return-value]

    def run_on_loop(self, coroutine: Coroutine[Any, Any, T], *, timeout: float) -> T:
        """Run one coroutine on the app's event loop from a job thread and wait for its result.

        On timeout the coroutine is cancelled and ``TimeoutError`` raised. Never call this from the
        loop's own thread: it would wait for itself.
        """
        if self._loop is None or self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("no running event loop to hand the coroutine to")
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # the usual case: a job thread has no loop
            current = None
        if current is self._loop:
            coroutine.close()
            raise RuntimeError("run_on_loop called on the event loop's own thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise TimeoutError(f"coroutine did not finish within {timeout:g} s") from error

    # ----------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> JobScheduler:
        self._scheduler.start()
        logger.info("Scheduler started: %s", ", ".join(self._jobs) or "no jobs")
        return self

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (e.g. dispose the jobs' engine) once running jobs are done."""
        self._on_shutdown.append(callback)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop scheduling, wait up to ``timeout`` for running jobs; True when none was left running.

        Blocking; from the event loop use ``aclose`` so jobs waiting on ``run_on_loop`` can finish.
        """
        if self._closing:
            return True
        self._closing = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        with self._idle:
            idle = self._idle.wait_for(lambda: self._running == 0, timeout)
        if not idle:
            logger.warning("Scheduler stopped with %d job(s) still running", self._running)
        for callback in self._on_shutdown:
            callback()
        return idle

    async def aclose(self, timeout: float = 10.0) -> bool:
        """``shutdown`` from the event loop, which stays free meanwhile for jobs' coroutines."""
        return await asyncio.to_thread(self.shutdown, timeout)

    # ----------------------------------------------------------------- status

    def status(self) -> list[dict[str, Any]]:
        """One dict per job, JSON-ready: id, trigger (e.g. ``interval[0:05:00]``), next_run and
        last_run_at (ISO 8601), last_duration_ms, last_outcome, runs, errors. ``next_run`` is None
        once stopped."""
        out = []
        for name, job in self._jobs.items():
            scheduled = self._scheduler.get_job(name) if not self._closing else None
            next_run = getattr(scheduled, "next_run_time", None) if scheduled is not None else None
            out.append(
                {
                    "id": name,
                    "trigger": str(scheduled.trigger) if scheduled is not None else None,
                    "next_run": next_run.isoformat() if next_run else None,
                    "last_run_at": job.last_run_at.isoformat() if job.last_run_at else None,
                    "last_duration_ms": round(job.last_duration_ms, 1)
                    if job.last_duration_ms is not None
                    else None,
                    "last_outcome": job.last_outcome,
                    "runs": job.runs,
                    "errors": job.errors,
                }
            )
        return out
