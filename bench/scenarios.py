"""The bench's scenarios (bench/workspace.py has the 200-coach one).

turn and burst run as the product does by default: the emulator enforces Slack's rate tiers and
coachbot paces itself by its budget. The others measure coachbot's own capacity on a lenient Slack
(``--slack-limits off``; the figures in docs/PERFORMANCE.md say which).

Each warms up, resets the fakes' records, drives load, and reads back timings.

Cross-process latencies subtract perf_counter values taken in different processes (the
generator, the fake OpenAI, the Slack emulator): all CLOCK_MONOTONIC on Linux, so comparable.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.harness import (
    Check,
    Harness,
    Row,
    ScenarioResult,
    Step,
    cpu_used,
    describe_cpu,
    run_sequential,
    send_all,
    thread_plan,
    wait_for_count,
    warm_up,
)
from bench.load import EventSender, Sent
from bench.processes import TurnLog, process_usage, start_floor_app
from bench.seed import SeedResult
from bench.stats import Summary, ms, ratio, summarize
from bench.traces import TEXT_METHODS, TurnTrace, deliveries, delivery_counts, trace_turns
from devkit.fake_openai import last_user_text

BURST_COACHES = 50
BURST_TIMEOUT = 60.0
ACK_THREADS = 1000
ACK_RATE = 50.0  # messages per second
ACK_SLOW_MS = 3000.0  # Slack retries an event not acknowledged within 3 s
ACK_POLL_SECONDS = 0.5  # how often the generator asks the emulator which replies are complete
ACK_DRAIN_TIMEOUT = 60.0
ACK_P99_TARGET_MS = 20.0  # with 1,000 concurrent coaches
OVERHEAD_P50_TARGET_MS = 5.0  # event received → model request sent, app-measured
OVERHEAD_P99_TARGET_MS = 25.0
FIRST_TEXT_TARGET_MS = 15.0  # first visible text after the model's first token

_T = TypeVar("_T")


# ------------------------------------------------------------------ shared measures


def conversation_reads(calls: list[dict[str, Any]]) -> int:
    """Slack conversations.* reads: coachbot keeps history in its database, so it should make none."""
    return sum(1 for call in calls if str(call.get("method", "")).startswith("conversations."))


def app_measures(turns: list[TurnLog]) -> dict[str, Summary]:
    return {
        "event_to_model_ms": summarize(t.event_to_model_ms for t in turns),
        "first_token_to_slack_ms": summarize(t.first_token_to_slack_ms for t in turns),
        "last_token_to_final_ms": summarize(t.last_token_to_final_ms for t in turns),
        "model_ms": summarize(t.model_ms for t in turns),
    }


def cross_process(traces: list[TurnTrace]) -> dict[str, Summary]:
    with_model = [t for t in traces if t.model is not None]
    return {
        "event_sent_to_model_received_ms": summarize(
            ms(t.sent.sent_at, t.model.received_at) for t in with_model if t.model
        ),
        "model_first_token_to_first_text_ms": summarize(
            ms(t.model.first_token_at, t.first_text_at) for t in with_model if t.model
        ),
        "model_last_token_to_stop_stream_ms": summarize(
            ms(t.model.finished_at, t.end_at) for t in with_model if t.model
        ),
    }


def errors(
    sent: list[Sent], traces: list[TurnTrace], app_problems: list[str] | None = None
) -> dict[str, int]:
    found = {
        "non_200_acks": sum(1 for s in sent if s.status not in (0, 200)),
        "no_http_answer": sum(1 for s in sent if s.status == 0),
        "missing_replies": sum(1 for t in traces if t.sent.ok and not t.complete),
    }
    if app_problems is not None:
        found["app_error_lines"] = sum(1 for line in app_problems if " ERROR " in line)
    return found


READS_CHECK = "Slack conversations.* reads per turn"


def reads_check(result: ScenarioResult, reads: int, turns: int) -> Check:
    """Also records the counts, so the summary can fold every scenario's reads into one figure."""
    result.metrics["conversations_reads"] = reads
    result.metrics["turns_measured"] = turns
    return Check(READS_CHECK, reads / turns if turns else None, 0.0, "reads")


def _p(summary: Summary, key: str) -> float | None:
    value = summary.get(key)
    return None if value is None else float(value)


# ------------------------------------------------------------------ turn


async def turn(h: Harness) -> ScenarioResult:
    """One coach at a time: the bot's own cost per turn, by its clock and by the fakes' clocks.

    On a seeded database the long thread is a seeded one that already holds ~40 messages, so every
    one of its turns reads a full history out of a big table.
    """
    seeded = h.seeded
    description = "one coach at a time: N turns in one DM thread, then a few threads"
    existing: Step | None = None
    if seeded is not None:
        key = seeded.first_session
        existing = Step(key.channel_id, seeded.first_session_user, new_thread=False, thread_ts=key.thread_ts)
        description = (
            f"one coach at a time: N follow-ups in a seeded DM thread ({seeded.first_session_messages} "
            "earlier messages), then a few new threads"
        )
    result = ScenarioResult("turn", description)
    count, extra = (10, 2) if h.options.quick else (30, 3)
    progress = h.app_progress()
    await warm_up(h.sender, h.factory, "DWTURN", progress)
    await h.reset_fakes()
    log_mark, problem_mark = h.app.log.turn_count(), h.app.log.problem_count()
    sent = await run_sequential(h.sender, h.factory, thread_plan("DTURN", count, extra, existing), progress)
    traces, calls = await h.traces(sent)
    turn_logs = h.app.log.turns_since(log_mark)
    app = app_measures(turn_logs)
    xp = cross_process(traces)
    acks = summarize(s.ack_ms for s in sent)
    reads = conversation_reads(calls)
    problems = h.app.log.problems_since(problem_mark)
    result.metrics = {
        "turns": len(sent),
        "top_level_turns": sum(1 for s in sent if s.event.top_level),
        "app": app,
        "cross_process": xp,
        "by_kind": {
            kind: cross_process([t for t in traces if t.sent.event.top_level is top])
            for kind, top in (("top_level", True), ("follow_up", False))
        },
        "seeded_thread": None,
        "ack_ms": acks,
        "slack_calls": dict(Counter(str(c["method"]) for c in calls)),
        "conversations_reads": reads,
        "errors": errors(sent, traces, problems),
        "app_problems": problems[:20],
    }
    result.rows = [
        Row("app: event → model request", app["event_to_model_ms"]),
        Row("app: first token → first Slack text", app["first_token_to_slack_ms"]),
        Row("app: last token → final Slack call", app["last_token_to_final_ms"]),
        Row("x-proc: event sent → model request received", xp["event_sent_to_model_received_ms"]),
        Row("x-proc: model first token → first text at Slack", xp["model_first_token_to_first_text_ms"]),
        Row("x-proc: model last token → stopStream at Slack", xp["model_last_token_to_stop_stream_ms"]),
        Row("ack", acks),
        Row("turns (top-level threads)", value=f"{len(sent)} ({result.metrics['top_level_turns']})"),
        Row("conversations.* reads", value=reads),
        Row("errors", value=result.metrics["errors"]),
    ]
    if seeded is not None:
        await _seeded_thread_rows(h, result, seeded, traces, turn_logs)
    result.checks = [
        Check(
            "first text after model's first token (x-proc p50)",
            _p(xp["model_first_token_to_first_text_ms"], "p50"),
            FIRST_TEXT_TARGET_MS,
        ),
        Check(
            "event → model request (app-measured p50)",
            _p(app["event_to_model_ms"], "p50"),
            OVERHEAD_P50_TARGET_MS,
        ),
        Check(
            "event → model request (app-measured p99)",
            _p(app["event_to_model_ms"], "p99"),
            OVERHEAD_P99_TARGET_MS,
        ),
        reads_check(result, reads, len(sent)),
    ]
    return result


async def _seeded_thread_rows(
    h: Harness,
    result: ScenarioResult,
    seeded: SeedResult,
    traces: list[TurnTrace],
    turn_logs: list[TurnLog],
) -> None:
    """The turns continuing the seeded thread, apart, and proof that its history reached the model."""
    thread = seeded.first_session.thread_ts
    mine = [t for t in traces if t.sent.event.thread_ts == thread]
    texts = {t.sent.event.text for t in mine}
    _, _, requests = await h.recorded()
    prompt_sizes = [
        len(body.get("messages") or [])
        for body in (r.get("body") or {} for r in requests)
        if last_user_text(body) in texts
    ]
    app = app_measures([t for t in turn_logs if t.session == str(seeded.first_session_id)])
    xp = cross_process(mine)
    result.metrics["seeded_thread"] = {
        "session_id": seeded.first_session_id,
        "seeded_messages": seeded.first_session_messages,
        "turns": len(mine),
        "app": app,
        "cross_process": xp,
        "prompt_messages": {"min": min(prompt_sizes, default=None), "max": max(prompt_sizes, default=None)},
    }
    label = f"seeded thread ({seeded.first_session_messages}+ msgs)"
    sizes = f"{min(prompt_sizes)}–{max(prompt_sizes)}" if prompt_sizes else "-"
    result.rows[-3:-3] = [
        Row(f"{label}: app: event → model request", app["event_to_model_ms"]),
        Row(f"{label}: x-proc: event sent → model request", xp["event_sent_to_model_received_ms"]),
        Row(f"{label}: turns / messages in model prompts", value=f"{len(mine)} / {sizes}"),
    ]


# ------------------------------------------------------------------ burst


async def burst(h: Harness) -> ScenarioResult:
    """50 coaches write their first message at the same moment."""
    result = ScenarioResult("burst", f"{BURST_COACHES} coaches send a first message at the same moment")
    progress = h.app_progress()
    await warm_up(h.sender, h.factory, "DWBURST", progress)
    await h.sender.warm_connections(BURST_COACHES + 10)
    events = [h.factory.message(f"DBURST{i:03d}", f"UBURST{i:03d}") for i in range(BURST_COACHES)]
    await h.reset_fakes()
    log_mark, problem_mark = h.app.log.turn_count(), h.app.log.problem_count()
    before, cpu_before, started = await progress(), h.cpu_seconds(), time.perf_counter()
    sent = await send_all(h.sender, events)
    expected = sum(1 for s in sent if s.ok)
    await wait_for_count(progress, before + expected, BURST_TIMEOUT, poll=0.01)
    cpu, elapsed = cpu_used(cpu_before, h.cpu_seconds()), time.perf_counter() - started
    calls, messages, requests = await h.recorded()
    traces = trace_turns(sent, calls, messages, requests)
    counts = delivery_counts(deliveries(sent, calls, messages, requests))
    streams = await h.slack_api.get("/_devkit/streams")
    counts["open_streams"] = len(streams) if isinstance(streams, list) else -1
    rate_limited = (await h.slack_api.get("/_devkit/rate_limits")).get("rate_limited", {})
    problems = h.app.log.problems_since(problem_mark)
    ttft_ms, tps = h.options.ttft * 1000.0, h.options.tps

    beyond_ttft = summarize(_minus(ms(t.sent.sent_at, t.first_text_at), ttft_ms) for t in traces)
    complete = summarize(ms(t.sent.sent_at, t.end_at) for t in traces)
    model_time = summarize(ms(t.model.received_at, t.model.finished_at) for t in traces if t.model)
    nominal = summarize(ttft_ms + (t.model.tokens / tps * 1000.0 if tps else 0.0) for t in traces if t.model)
    overhead = _difference(_p(complete, "p95"), _p(model_time, "p95"))
    acks = summarize(s.ack_ms for s in sent)
    reads = conversation_reads(calls)
    xp = cross_process(traces)
    result.metrics = {
        "coaches": BURST_COACHES,
        **counts,
        "slack_429s_by_method": rate_limited,
        "first_text_beyond_ttft_ms": beyond_ttft,
        "complete_ms": complete,
        "model_time_ms": model_time,
        "nominal_model_time_ms": nominal,
        "overhead_beyond_model_time_p95_ms": overhead,
        "overhead_beyond_nominal_p95_ms": _difference(_p(complete, "p95"), _p(nominal, "p95")),
        "cross_process": xp,
        "app": app_measures(h.app.log.turns_since(log_mark)),
        "ack_ms": acks,
        "conversations_reads": reads,
        "cpu_s_by_process": cpu,
        "elapsed_s": round(elapsed, 3),
        "errors": errors(sent, traces, problems),
        "app_problems": problems[:20],
    }
    result.rows = [
        Row(
            "streamed / post and edit / posted whole",
            value=f"{counts['streamed']} / {counts['post_and_edit']} / {counts['posted_whole']}",
        ),
        Row("first text at Slack − send − TTFT", beyond_ttft),
        Row("reply complete (stop, update or post) − send", complete),
        Row("model time (fake finished − received)", model_time),
        Row("nominal model time (ttft + tokens/tps)", nominal),
        Row("overhead beyond model time (p95 − p95)", value=_fmt_ms(overhead)),
        Row("x-proc: event sent → model request received", xp["event_sent_to_model_received_ms"]),
        Row("x-proc: model first token → first text at Slack", xp["model_first_token_to_first_text_ms"]),
        Row("ack", acks),
        Row("CPU until the last reply", value=describe_cpu(cpu, elapsed)),
        Row("conversations.* reads", value=reads),
        Row("Slack 429s answered, by method", value=rate_limited or "none"),
        Row(
            "coach-visible Slack errors / streams left open",
            value=f"{counts['coach_visible_errors']} / {counts['open_streams']}",
        ),
        Row("errors", value=result.metrics["errors"]),
    ]
    result.highlights = [
        f"burst ({BURST_COACHES} coaches): {counts['streamed']} streamed, {counts['post_and_edit']} post and "
        f"edit, {counts['posted_whole']} posted whole; first text beyond TTFT p95 {_p(beyond_ttft, 'p95')} ms"
    ]
    result.checks = [
        Check("burst first text beyond TTFT p95", _p(beyond_ttft, "p95"), 250.0),
        Check("burst complete p95 − model time p95", overhead, 400.0),
        reads_check(result, reads, len(sent)),
    ]
    return result


# ------------------------------------------------------------------ acks


@dataclass
class _Coach:
    channel: str
    user: str
    thread_ts: str | None = None
    expected: int = 0  # messages sent (and not refused) that should each get a reply


async def acks(h: Harness) -> ScenarioResult:
    """Open-loop load over many threads: are events acknowledged fast while replies stream?"""
    seconds = 5.0 if h.options.quick else 20.0
    result = ScenarioResult(
        "acks", f"{ACK_THREADS} threads, {ACK_RATE:.0f} messages/s for {seconds:.0f} s, open loop"
    )
    progress = h.app_progress()
    await warm_up(h.sender, h.factory, "DWACK", progress)
    await h.reset_fakes()
    log_mark, problem_mark = h.app.log.turn_count(), h.app.log.problem_count()
    coaches = [_Coach(f"DACK{i:04d}", f"UACK{i:04d}") for i in range(ACK_THREADS)]
    completed = _Completions()
    rss_before, cpu_before = process_usage(h.app.process.pid).rss_kib, h.cpu_seconds()

    stop_polling = asyncio.Event()
    poller = asyncio.create_task(_poll_completions(h, completed, stop_polling))
    try:
        window_start = time.perf_counter()
        sent, lags, skipped = await _open_loop(h, coaches, completed, seconds)
        window = time.perf_counter() - window_start
        cpu_window = cpu_used(cpu_before, h.cpu_seconds())
        drained = await _wait_until(
            lambda: _all_idle(coaches, completed), ACK_DRAIN_TIMEOUT, ACK_POLL_SECONDS
        )
    finally:
        stop_polling.set()
        await poller
    usage_after = process_usage(h.app.process.pid)
    cpu = cpu_window["coachbot"]
    await _refresh_completions(h, completed)

    traces, calls = await h.traces(sent)
    ack_values = [s.ack_ms for s in sent]
    ack_summary = summarize(ack_values)
    slow = sum(1 for s in sent if s.ack_ms is None or s.ack_ms > ACK_SLOW_MS)
    replies_expected = sum(c.expected for c in coaches)
    replies_done = sum(min(completed[c.channel], c.expected) for c in coaches)
    reads = conversation_reads(calls)
    app = app_measures(h.app.log.turns_since(log_mark))
    problems = h.app.log.problems_since(problem_mark)
    result.metrics = {
        "threads": ACK_THREADS,
        "rate_per_s": ACK_RATE,
        "window_s": round(window, 3),
        "sent": len(sent),
        "top_level": sum(1 for s in sent if s.event.top_level),
        "skipped_no_idle_thread": skipped,
        "generator_lag_ms": summarize(lags),
        "ack_ms": ack_summary,
        "acks_over_3s": slow,
        "replies_expected": replies_expected,
        "replies_completed": replies_done,
        "drained": drained,
        "reply_complete_ms": summarize(ms(t.sent.sent_at, t.end_at) for t in traces),
        "cross_process": cross_process(traces),
        "app": app,
        "conversations_reads": reads,
        "errors": errors(sent, traces, problems),
        "app_rss_kib": {"before": rss_before, "after": usage_after.rss_kib},
        "app_cpu_s": {
            "window": round(cpu, 3),
            "window_utilisation": round(cpu / window, 3) if window else None,
            "total_incl_drain": round(usage_after.cpu_seconds - cpu_before["coachbot"], 3),
        },
        "window_cpu_s_by_process": cpu_window,
        "app_problems": problems[:20],
    }
    result.rows = [
        Row("ack", ack_summary),
        Row("acks over 3 s (or unanswered)", value=slow),
        Row("replies completed / expected", value=f"{replies_done} / {replies_expected}"),
        Row("reply complete − send", result.metrics["reply_complete_ms"]),
        Row("app: event → model request", app["event_to_model_ms"]),
        Row("generator lag behind schedule", result.metrics["generator_lag_ms"]),
        Row("sent (top-level) / skipped", value=f"{len(sent)} ({result.metrics['top_level']}) / {skipped}"),
        Row(
            "app RSS before → after",
            value=f"{rss_before // 1024} → {usage_after.rss_kib // 1024} MiB",
        ),
        Row("CPU in window", value=describe_cpu(cpu_window, window)),
        Row("conversations.* reads", value=reads),
        Row("errors", value=result.metrics["errors"]),
    ]
    result.checks = [
        Check("acks p99", _p(ack_summary, "p99"), ACK_P99_TARGET_MS),
        Check("acks over 3 s", float(slow), 0.0, "acks"),
        reads_check(result, reads, len(sent)),
    ]
    return result


async def _open_loop(
    h: Harness, coaches: list[_Coach], completed: Counter[str], seconds: float
) -> tuple[list[Sent], list[float], int]:
    """Send on an absolute schedule; each send is its own task so a slow ack never delays the next."""
    rng = random.Random(20240229)
    total = round(ACK_RATE * seconds)
    start = time.perf_counter() + 0.1
    tasks: list[asyncio.Task[Sent]] = []
    lags: list[float] = []
    skipped = 0
    for n in range(total):
        due = start + n / ACK_RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        idle = [c for c in coaches if c.expected <= completed[c.channel]]
        if not idle:
            skipped += 1
            continue
        coach = rng.choice(idle)
        event = h.factory.message(coach.channel, coach.user, coach.thread_ts)
        coach.thread_ts = event.thread_ts
        coach.expected += 1
        lags.append((time.perf_counter() - due) * 1000.0)
        tasks.append(asyncio.create_task(_send_counted(h.sender, coach, event)))
    sent = list(await asyncio.gather(*tasks))
    return sent, lags, skipped


async def _send_counted(sender: EventSender, coach: _Coach, event: Any) -> Sent:
    sent = await sender.send(event)
    if not sent.ok:
        coach.expected -= 1  # refused: no reply will come, the thread is free again
    return sent


class _Completions(Counter[str]):
    """Completed replies per channel: stopStream calls, plus postMessage (failure notes, fallback).

    Fetched incrementally (the emulator's ``since``), so polling costs the same at the end of a
    run as at its start instead of re-sending every call recorded so far: with 1,000 coaches the
    full lists cost the emulator and the generator more CPU than the app under test.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen = {"chat.stopStream": 0, "chat.postMessage": 0}


async def _refresh_completions(h: Harness, completed: _Completions) -> None:
    methods = list(completed.seen)
    batches = await asyncio.gather(
        *(h.slack_api.get("/_devkit/calls", method=m, since=str(completed.seen[m])) for m in methods)
    )
    for method, calls in zip(methods, batches, strict=True):
        completed.seen[method] += len(calls)
        completed.update(str((c.get("args") or {}).get("channel", "")) for c in calls)


async def _poll_completions(h: Harness, completed: _Completions, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await _refresh_completions(h, completed)
        try:
            await asyncio.wait_for(stop.wait(), ACK_POLL_SECONDS)
        except TimeoutError:
            continue


def _all_idle(coaches: list[_Coach], completed: Counter[str]) -> bool:
    return all(c.expected <= completed[c.channel] for c in coaches)


async def _wait_until(condition: Callable[[], bool], timeout: float, poll: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(poll)
    return True


# ------------------------------------------------------------------ load


@dataclass(frozen=True)
class LoadShape:
    """A closed-loop load: ``coaches`` each send, wait for their reply, think, and send again."""

    coaches: int
    window_s: float  # messages are sent during this window; replies may finish after it
    ramp_s: float  # each coach's first message at a random moment of the ramp
    think_s: tuple[float, float]  # after a reply, before the next message


LOAD_SHAPES = {
    # 100 coaches in a lively exchange: ~5 s per cycle (reply ~1 s + think 2–6 s), ~20 messages/s.
    100: (LoadShape(100, 10.0, 3.0, (2.0, 6.0)), LoadShape(100, 30.0, 5.0, (2.0, 6.0))),
    # 1,000 coaches, a whole company at once: first messages at ~50/s over the ramp, then each
    # reads the reply and writes again after 20–60 s (a quick typist): ~30 messages/s overall.
    1000: (LoadShape(1000, 20.0, 15.0, (20.0, 60.0)), LoadShape(1000, 45.0, 20.0, (20.0, 60.0))),
}
LOAD_REPLY_TIMEOUT = 30.0


@dataclass
class _LoadCoach:
    channel: str
    user: str
    thread_ts: str | None = None
    expected: int = 0
    done: asyncio.Event | None = None


async def load(h: Harness, coaches: int) -> ScenarioResult:
    """``coaches`` concurrent coaches, each an asyncio task in its own DM thread, closed loop."""
    shape = LOAD_SHAPES[coaches][0 if h.options.quick else 1]
    result = ScenarioResult(
        f"load_{coaches}",
        f"{coaches} concurrent coaches, each in its own thread: send, wait for the reply, think "
        f"{shape.think_s[0]:g}–{shape.think_s[1]:g} s, again; {shape.window_s:g} s (ramp {shape.ramp_s:g} s)",
    )
    progress = h.app_progress()
    await warm_up(h.sender, h.factory, f"DWL{coaches}", progress)
    await h.sender.warm_connections(min(coaches, 200))
    await h.reset_fakes()
    log_mark, problem_mark = h.app.log.turn_count(), h.app.log.problem_count()
    crew = [_LoadCoach(f"DL{coaches}{i:05d}", f"UL{coaches}{i:05d}") for i in range(coaches)]
    completed = _Completions()
    usage_before, cpu_before = process_usage(h.app.process.pid), h.cpu_seconds()

    stop_polling = asyncio.Event()
    poller = asyncio.create_task(_poll_load_completions(h, crew, completed, stop_polling))
    sent: list[Sent] = []
    try:
        started = time.perf_counter()
        end_at = started + shape.window_s
        rng = random.Random(coaches)
        await asyncio.gather(
            *(
                _coach_loop(
                    h, coach, sent, started + rng.uniform(0, shape.ramp_s), end_at, shape, rng.random()
                )
                for coach in crew
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        stop_polling.set()
        await poller
    usage_after = process_usage(h.app.process.pid)
    cpu = cpu_used(cpu_before, h.cpu_seconds())
    await _refresh_completions(h, completed)

    traces, calls = await h.traces(sent)
    app = app_measures(h.app.log.turns_since(log_mark))
    xp = cross_process(traces)
    ack_summary = summarize(s.ack_ms for s in sent)
    slow = sum(1 for s in sent if s.ack_ms is None or s.ack_ms > ACK_SLOW_MS)
    replies = sum(1 for t in traces if t.complete)
    reads = conversation_reads(calls)
    problems = h.app.log.problems_since(problem_mark)
    app_cpu = cpu["coachbot"]
    result.metrics = {
        "coaches": coaches,
        "shape": {"window_s": shape.window_s, "ramp_s": shape.ramp_s, "think_s": list(shape.think_s)},
        "elapsed_s": round(elapsed, 3),
        "sent": len(sent),
        "replies_completed": replies,
        "throughput_replies_per_s": round(replies / elapsed, 2) if elapsed else None,
        "ack_ms": ack_summary,
        "acks_over_3s": slow,
        "app": app,
        "cross_process": xp,
        "reply_complete_ms": summarize(ms(t.sent.sent_at, t.end_at) for t in traces),
        "conversations_reads": reads,
        "errors": errors(sent, traces, problems),
        "app_rss_kib": {
            "before": usage_before.rss_kib,
            "after": usage_after.rss_kib,
            "peak_since_start": usage_after.peak_rss_kib,
        },
        "app_cpu_s": round(app_cpu, 3),
        "app_cpu_utilisation": round(app_cpu / elapsed, 3) if elapsed else None,
        "cpu_s_by_process": cpu,
        "app_problems": problems[:20],
    }
    result.rows = [
        Row("ack", ack_summary),
        Row("acks over 3 s (or unanswered)", value=slow),
        Row("app: event → model request", app["event_to_model_ms"]),
        Row("app: last token → final Slack call", app["last_token_to_final_ms"]),
        Row("app: first token → first Slack text", app["first_token_to_slack_ms"]),
        Row("x-proc: model first token → first text at Slack", xp["model_first_token_to_first_text_ms"]),
        Row("x-proc: event sent → model request received", xp["event_sent_to_model_received_ms"]),
        Row("reply complete − send", result.metrics["reply_complete_ms"]),
        Row(
            "sent / replies completed / throughput",
            value=f"{len(sent)} / {replies} / {result.metrics['throughput_replies_per_s']} replies/s",
        ),
        Row(
            "app RSS before → after (peak)",
            value=f"{usage_before.rss_kib // 1024} → {usage_after.rss_kib // 1024} MiB "
            f"({usage_after.peak_rss_kib // 1024} MiB)",
        ),
        Row("CPU", value=describe_cpu(cpu, elapsed)),
        Row("conversations.* reads", value=reads),
        Row("errors", value=result.metrics["errors"]),
    ]
    result.checks = [
        Check(
            f"event → model request p50 ({coaches} coaches)",
            _p(app["event_to_model_ms"], "p50"),
            OVERHEAD_P50_TARGET_MS,
        ),
        Check(
            f"event → model request p99 ({coaches} coaches)",
            _p(app["event_to_model_ms"], "p99"),
            OVERHEAD_P99_TARGET_MS,
        ),
        Check(
            f"first text after model's first token p50 ({coaches})",
            _p(xp["model_first_token_to_first_text_ms"], "p50"),
            FIRST_TEXT_TARGET_MS,
        ),
        Check(f"acks p99 ({coaches} coaches)", _p(ack_summary, "p99"), ACK_P99_TARGET_MS),
        Check(f"acks over 3 s ({coaches} coaches)", float(slow), 0.0, "acks"),
        reads_check(result, reads, len(sent)),
    ]
    throughput = result.metrics["throughput_replies_per_s"]
    result.highlights = [
        f"load_{coaches}: {len(sent)} messages, {replies} replies ({throughput}/s); app CPU "
        f"{result.metrics['app_cpu_utilisation']:.0%} of a core, RSS {usage_after.rss_kib // 1024} MiB"
    ]
    return result


async def _coach_loop(
    h: Harness,
    coach: _LoadCoach,
    sent: list[Sent],
    start_at: float,
    end_at: float,
    shape: LoadShape,
    seed: float,
) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    while time.perf_counter() < end_at:
        event = h.factory.message(coach.channel, coach.user, coach.thread_ts)
        coach.thread_ts = event.thread_ts
        coach.expected += 1
        coach.done = asyncio.Event()
        delivery = await h.sender.send(event)
        sent.append(delivery)
        if delivery.ok:
            deadline = loop.time() + LOAD_REPLY_TIMEOUT
            try:
                await asyncio.wait_for(coach.done.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return  # this coach gives up; the missing reply shows in the errors
        else:
            coach.expected -= 1
        await asyncio.sleep(rng.uniform(*shape.think_s))


async def _poll_load_completions(
    h: Harness, crew: list[_LoadCoach], completed: _Completions, stop: asyncio.Event
) -> None:
    """Wake each coach whose reply has completed (stopStream or postMessage in its channel)."""
    while not stop.is_set():
        await _refresh_completions(h, completed)
        for coach in crew:
            if coach.done is not None and completed[coach.channel] >= coach.expected:
                coach.done.set()
        try:
            await asyncio.wait_for(stop.wait(), ACK_POLL_SECONDS / 2)
        except TimeoutError:
            continue


# ------------------------------------------------------------------ floor


async def floor(h: Harness) -> ScenarioResult:
    """A minimal Bolt app against coachbot with an instant model: what does coachbot itself add?"""
    result = ScenarioResult("floor", "minimal Bolt app vs coachbot with an instant model (ttft=0, tps=0)")
    count, extra = (10, 2) if h.options.quick else (30, 3)

    floor_app = await asyncio.to_thread(start_floor_app, h.registry, h.slack)
    try:
        floor_sender = EventSender(h.session, floor_app.events_url)
        floor_progress = h.app_progress(floor_app)
        await warm_up(floor_sender, h.factory, "DWFLOOR", floor_progress)
        await h.reset_fakes()
        floor_sent = await run_sequential(
            floor_sender, h.factory, thread_plan("DFLOOR", count, extra), floor_progress
        )
        calls, messages, _ = await h.recorded()
        posted = frozenset({"chat.postMessage"})  # its one reply is both first text and end
        floor_traces = trace_turns(floor_sent, calls, messages, [], text_methods=posted, end_methods=posted)
    finally:
        await asyncio.to_thread(floor_app.process.stop)

    instant = await _with_model_config(h, 0.0, 0.0, lambda: _instant_turns(h, count, extra))
    bot_sent, bot_traces, bot_calls = instant

    floor_ack = summarize(s.ack_ms for s in floor_sent)
    floor_reply = summarize(ms(t.sent.sent_at, t.first_text_at) for t in floor_traces)
    bot_ack = summarize(s.ack_ms for s in bot_sent)
    bot_reply = summarize(ms(t.sent.sent_at, t.first_text_at) for t in bot_traces)
    reads = conversation_reads(bot_calls)
    result.metrics = {
        "turns": len(floor_sent),
        "floor": {"ack_ms": floor_ack, "event_to_reply_posted_ms": floor_reply},
        "coachbot_instant_model": {
            "ack_ms": bot_ack,
            "event_to_first_text_ms": bot_reply,
            "cross_process": cross_process(bot_traces),
        },
        "ratio_coachbot_over_floor": {
            "ack_p50": ratio(_p(bot_ack, "p50"), _p(floor_ack, "p50")),
            "ack_p99": ratio(_p(bot_ack, "p99"), _p(floor_ack, "p99")),
            "reply_p50": ratio(_p(bot_reply, "p50"), _p(floor_reply, "p50")),
            "reply_p99": ratio(_p(bot_reply, "p99"), _p(floor_reply, "p99")),
        },
        "conversations_reads": reads,
        "errors": {"floor": errors(floor_sent, floor_traces), "coachbot": errors(bot_sent, bot_traces)},
    }
    ratios = result.metrics["ratio_coachbot_over_floor"]
    result.rows = [
        Row("floor: ack", floor_ack),
        Row("floor: event → reply posted", floor_reply),
        Row("coachbot (instant model): ack", bot_ack),
        Row("coachbot (instant model): event → first text", bot_reply),
        Row(
            "ratio coachbot/floor, ack p50 / p99",
            value=f"{_fmt_x(ratios['ack_p50'])} / {_fmt_x(ratios['ack_p99'])}",
        ),
        Row(
            "ratio coachbot/floor, reply p50 / p99",
            value=f"{_fmt_x(ratios['reply_p50'])} / {_fmt_x(ratios['reply_p99'])}",
        ),
        Row("conversations.* reads (coachbot)", value=reads),
        Row("errors", value=result.metrics["errors"]),
    ]
    result.checks = [reads_check(result, reads, len(bot_sent))]
    result.highlights = [
        f"floor: event → first reply text p50, coachbot (instant model) {_fmt_ms(_p(bot_reply, 'p50'))} "
        f"vs minimal Bolt app {_fmt_ms(_p(floor_reply, 'p50'))} = {_fmt_x(ratios['reply_p50'])}; "
        f"ack p50 ratio {_fmt_x(ratios['ack_p50'])}"
    ]
    return result


async def _instant_turns(h: Harness, count: int, extra: int) -> tuple[list[Sent], list[TurnTrace], list[Any]]:
    progress = h.app_progress()
    await warm_up(h.sender, h.factory, "DWINST", progress)
    await h.reset_fakes()
    sent = await run_sequential(h.sender, h.factory, thread_plan("DINST", count, extra), progress)
    calls, messages, requests = await h.recorded()
    return sent, trace_turns(sent, calls, messages, requests, text_methods=TEXT_METHODS), calls


async def _with_model_config(h: Harness, ttft: float, tps: float, body: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``body`` with the fake model re-paced, restoring the run's pacing whatever happens."""
    await h.model_api.post("/_devkit/config", {"ttft": ttft, "tokens_per_second": tps})
    try:
        return await body()
    finally:
        await h.model_api.post(
            "/_devkit/config", {"ttft": h.options.ttft, "tokens_per_second": h.options.tps}
        )


# ------------------------------------------------------------------ registry


def _minus(value: float | None, amount: float) -> float | None:
    return None if value is None else value - amount


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _fmt_x(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}×"
