"""200 coaches in one workspace within a minute, with the emulator enforcing Slack's rate tiers.

Slack limits chat.startStream and chat.stopStream to 20+ a minute per workspace, so most of these
replies cannot stream: coachbot posts them whole once complete. The scenario checks that every
reply arrives complete and intact, that no coach sees a Slack error, and how long a reply takes
beyond the model's own time; it reports how many replies streamed and how many were posted whole.
"""

from __future__ import annotations

import asyncio
import random
import time

from bench.harness import Check, Harness, Row, ScenarioError, ScenarioResult, wait_for_count, warm_up
from bench.load import EventSender, PreparedEvent, Sent
from bench.scenarios import FIRST_TEXT_TARGET_MS, _p, app_measures, cross_process, errors
from bench.stats import ms, summarize
from bench.traces import TurnTrace, deliveries, delivery_counts, trace_turns

WORKSPACE_COACHES = 200
WORKSPACE_WINDOW_S = 60.0
DRAIN_TIMEOUT_S = 60.0
BEYOND_MODEL_TARGET_MS = 2000.0


async def workspace(h: Harness) -> ScenarioResult:
    """Each coach writes once, at a random moment of the window, in their own DM; one workspace."""
    coaches, window = (40, 12.0) if h.options.quick else (WORKSPACE_COACHES, WORKSPACE_WINDOW_S)
    result = ScenarioResult(
        f"workspace_{coaches}",
        f"{coaches} coaches in one workspace each write once within {window:g} s; Slack's rate tiers on",
    )
    limits = await h.slack_api.get("/_devkit/rate_limits")
    if not limits.get("enabled"):
        raise ScenarioError("needs the emulator's rate limits on (python -m bench --slack-limits on)")
    progress = h.app_progress()
    await warm_up(h.sender, h.factory, "DWWS", progress)
    await h.sender.warm_connections(50)
    await h.reset_fakes()  # the emulator's budgets refill, as after a quiet minute
    rng = random.Random(coaches)
    events = [h.factory.message(f"DWS{i:04d}", f"UWS{i:04d}") for i in range(coaches)]
    offsets = sorted(rng.uniform(0.0, window) for _ in events)
    log_mark, problem_mark, before = h.app.log.turn_count(), h.app.log.problem_count(), await progress()
    started = time.perf_counter()
    sent = list(
        await asyncio.gather(
            *(_send_at(h.sender, e, started + o) for e, o in zip(events, offsets, strict=True))
        )
    )
    await wait_for_count(progress, before + sum(1 for s in sent if s.ok), DRAIN_TIMEOUT_S, poll=0.1)
    elapsed = time.perf_counter() - started

    calls, messages, requests = await h.recorded()
    rate_limited = (await h.slack_api.get("/_devkit/rate_limits")).get("rate_limited", {})
    streams = await h.slack_api.get("/_devkit/streams")
    traces = trace_turns(sent, calls, messages, requests)
    delivery = deliveries(sent, calls, messages, requests)
    problems = h.app.log.problems_since(problem_mark)
    streamed = [t for t in traces if delivery[t.sent.event.channel]["streamed"]]
    complete = summarize(ms(t.sent.sent_at, t.end_at) for t in traces)
    beyond_model = summarize(_beyond_model(t) for t in traces)
    model_time = summarize(ms(t.model.received_at, t.model.finished_at) for t in traces if t.model)
    calls_per_stream = [d["calls"] - d["allowed_calls"] for d in delivery.values() if d["streamed"]]
    counts = {
        "replies": len(traces),
        "complete": sum(1 for t in traces if t.complete),
        "intact": sum(1 for d in delivery.values() if d["intact"]),
        **delivery_counts(delivery),
        "open_streams": len(streams) if isinstance(streams, list) else None,
    }
    result.metrics = {
        "coaches": coaches,
        "window_s": window,
        "elapsed_s": round(elapsed, 3),
        **counts,
        "complete_ms": complete,
        "complete_beyond_model_ms": beyond_model,
        "model_time_ms": model_time,
        "streamed_cross_process": cross_process(streamed),
        "cross_process": cross_process(traces),
        "app": app_measures(h.app.log.turns_since(log_mark)),
        "calls_over_bound_per_streamed_reply": summarize(calls_per_stream),
        "slack_429s_by_method": rate_limited,
        "errors": errors(sent, traces, problems),
        "app_problems": problems[:20],
    }
    streamed_xp = result.metrics["streamed_cross_process"]
    result.rows = [
        Row("replies complete / intact", value=f"{counts['complete']} / {counts['intact']} of {len(traces)}"),
        Row(
            "streamed / post and edit / posted whole",
            value=f"{counts['streamed']} / {counts['post_and_edit']} / {counts['posted_whole']}",
        ),
        Row("reply complete − send", complete),
        Row("reply complete − send − model time (per reply)", beyond_model),
        Row("model time (fake finished − received)", model_time),
        Row("streamed: model first token → first text", streamed_xp["model_first_token_to_first_text_ms"]),
        Row(
            "every reply: model first token → first text",
            result.metrics["cross_process"]["model_first_token_to_first_text_ms"],
        ),
        Row("Slack 429s answered, by method", value=rate_limited or "none"),
        Row("coach-visible Slack errors", value=counts["coach_visible_errors"]),
        Row("streams left open", value=counts["open_streams"]),
        Row("errors", value=result.metrics["errors"]),
    ]
    result.checks = [
        Check(
            "workspace: replies missing or not intact", float(len(traces) - counts["intact"]), 0.0, "replies"
        ),
        Check(
            "workspace: coach-visible Slack errors", float(counts["coach_visible_errors"]), 0.0, "messages"
        ),
        Check("workspace: complete − model time p95", _p(beyond_model, "p95"), BEYOND_MODEL_TARGET_MS),
        Check(
            "workspace: Slack calls beyond 2 + 1 append/s (max)",
            max(calls_per_stream, default=0.0),
            0.0,
            "calls",
        ),
        Check(
            "workspace: streamed first text after first token p50",
            _p(streamed_xp["model_first_token_to_first_text_ms"], "p50"),
            FIRST_TEXT_TARGET_MS,
        ),
    ]
    result.highlights = [
        f"workspace_{coaches} (Slack's tiers on): {counts['intact']}/{len(traces)} intact, "
        f"{counts['streamed']} streamed, {counts['post_and_edit']} post and edit, "
        f"{counts['posted_whole']} posted whole; complete − model time "
        f"p95 {_p(beyond_model, 'p95')} ms"
    ]
    return result


async def _send_at(sender: EventSender, event: PreparedEvent, at: float) -> Sent:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    return await sender.send(event)


def _beyond_model(trace: TurnTrace) -> float | None:
    total = ms(trace.sent.sent_at, trace.end_at)
    model = ms(trace.model.received_at, trace.model.finished_at) if trace.model else None
    return None if total is None or model is None else total - model
