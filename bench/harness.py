"""What every scenario shares: the running processes, sequential turns, waits, and result types."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.load import DevkitClient, EventFactory, EventSender, PreparedEvent, Sent
from bench.processes import DevkitServer, HttpApp, ProcessRegistry, process_usage
from bench.seed import SeedResult
from bench.stats import Summary
from bench.traces import TurnTrace, trace_turns

REPLY_TIMEOUT = 30.0  # one reply, model time included
MAX_MISSES = 3  # a sequential run gives up after this many replies that never came
TURN_PAUSE = 0.02  # between sequential turns: the app finishes its bookkeeping, as between real messages
WARMUP_TURNS = 3

Progress = Callable[[], Awaitable[int]]


class ScenarioError(RuntimeError):
    """The scenario could not produce meaningful numbers (e.g. replies stopped coming)."""


@dataclass(frozen=True)
class Options:
    ttft: float
    tps: float
    quick: bool


@dataclass
class Harness:
    """The processes under test and the generator's clients for them."""

    options: Options
    registry: ProcessRegistry
    app: HttpApp
    slack: DevkitServer
    model: DevkitServer
    session: aiohttp.ClientSession
    slack_api: DevkitClient
    model_api: DevkitClient
    sender: EventSender
    factory: EventFactory
    seeded: SeedResult | None = None  # what --seed-messages loaded before the app started
    database_url: str | None = None  # the app's database, for scenarios that seed their own rows

    def app_progress(self, app: HttpApp | None = None) -> Progress:
        """Completed turns as the app's own output reports them (no polling of anything remote)."""
        log = (app or self.app).log

        async def count() -> int:
            return log.completions()

        return count

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each process on the box's few cores: the app is not alone on them."""
        return {
            "coachbot": process_usage(self.app.process.pid).cpu_seconds,
            "fake_openai": process_usage(self.model.process.pid).cpu_seconds,
            "slack_emulator": process_usage(self.slack.process.pid).cpu_seconds,
            "harness": time.process_time(),
        }

    async def reset_fakes(self) -> None:
        await asyncio.gather(self.slack_api.reset(), self.model_api.reset())

    async def recorded(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Everything the fakes saw since their last reset: Slack calls, Slack messages, model requests."""
        calls, messages, requests = await asyncio.gather(
            self.slack_api.get("/_devkit/calls"),
            self.slack_api.get("/_devkit/messages"),
            self.model_api.get("/_devkit/requests"),
        )
        return calls, messages, requests

    async def traces(self, sent: list[Sent]) -> tuple[list[TurnTrace], list[dict[str, Any]]]:
        calls, messages, requests = await self.recorded()
        return trace_turns(sent, calls, messages, requests), calls


@dataclass(frozen=True)
class Step:
    """One message of a plan: in ``channel``, opening a new thread or following up in the current one.

    With ``thread_ts``, a follow-up in that existing thread (e.g. one seeded before the app started).
    """

    channel: str
    user: str
    new_thread: bool
    thread_ts: str | None = None


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 3) for name in before}


def describe_cpu(used: dict[str, float], seconds: float) -> str:
    """``coachbot 3.1 s (62%), …``: the share is of one core over ``seconds`` of wall time."""
    return ", ".join(
        f"{name} {value:.1f} s ({value / seconds:.0%})" if seconds else f"{name} {value:.1f} s"
        for name, value in used.items()
    )


def thread_plan(prefix: str, turns: int, extra_threads: int, existing: Step | None = None) -> list[Step]:
    """``turns`` messages in one DM thread, then ``extra_threads`` more threads of two messages each.

    With ``existing`` (a step naming a thread), the ``turns`` messages are all follow-ups in it.
    """
    if existing is not None:
        steps = [existing] * turns
    else:
        steps = [Step(f"{prefix}000", f"U{prefix}000", new_thread=n == 0) for n in range(turns)]
    for t in range(1, extra_threads + 1):
        channel, user = f"{prefix}{t:03d}", f"U{prefix}{t:03d}"
        steps += [Step(channel, user, new_thread=True), Step(channel, user, new_thread=False)]
    return steps


async def wait_for_count(progress: Progress, target: int, timeout: float, poll: float = 0.002) -> bool:
    """True once ``progress()`` reaches ``target``; False after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await progress() < target:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(poll)
    return True


async def run_sequential(
    sender: EventSender, factory: EventFactory, steps: list[Step], progress: Progress
) -> list[Sent]:
    """One coach at a time: send, wait for the reply to complete, pause briefly, next."""
    threads: dict[str, str] = {}
    sent: list[Sent] = []
    misses = 0
    for step in steps:
        thread = step.thread_ts or (None if step.new_thread else threads.get(step.channel))
        event = factory.message(step.channel, step.user, thread)
        threads[step.channel] = event.thread_ts
        before = await progress()
        result = await sender.send(event)
        sent.append(result)
        if not result.ok or not await wait_for_count(progress, before + 1, REPLY_TIMEOUT):
            misses += 1
            if misses >= MAX_MISSES:
                raise ScenarioError(f"{misses} turns got no reply (last ack: {result.status} {result.error})")
        await asyncio.sleep(TURN_PAUSE)
    return sent


async def warm_up(sender: EventSender, factory: EventFactory, prefix: str, progress: Progress) -> None:
    """A few turns first: connections, caches and code paths are warm; they count in no result."""
    await run_sequential(sender, factory, thread_plan(prefix, WARMUP_TURNS, 0), progress)


async def send_all(sender: EventSender, events: list[PreparedEvent]) -> list[Sent]:
    """All at the same moment (one gather), for bursts."""
    return list(await asyncio.gather(*(sender.send(event) for event in events)))


@dataclass
class Row:
    """A line of a scenario's table: a distribution (ms) or a single value."""

    label: str
    summary: Summary | None = None
    value: Any = None


@dataclass(frozen=True)
class Check:
    """A target: ``value`` must not exceed ``limit``."""

    name: str
    value: float | None
    limit: float
    unit: str = "ms"

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value <= self.limit

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "result": "PASS" if self.passed else "MISS",
        }


@dataclass
class ScenarioResult:
    name: str
    description: str
    metrics: dict[str, Any] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)  # repeated under the summary
    duration_s: float = 0.0
    error: str | None = None
