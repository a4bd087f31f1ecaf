"""Line up each sent event with what the fakes recorded for it, across the three processes.

- The model request is the one whose last user message is the event's (unique) text.
- Slack calls are grouped by thread: chat.startStream / chat.postMessage name it in ``thread_ts``;
  chat.stopStream names only the message ts, which the emulator's message store maps to its thread.
  Turns in one thread are sequential (the generator waits for a reply before the next message),
  so the n-th turn's calls are the first ones after its send time.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.load import Sent
from devkit.fake_openai import last_user_text, split_tokens

TEXT_METHODS = frozenset({"chat.startStream", "chat.postMessage"})
#: A reply ends with chat.stopStream, or, posted whole (Slack's streaming budget spent), with its post.
END_METHODS = frozenset({"chat.stopStream", "chat.postMessage"})


@dataclass(frozen=True)
class ModelRequest:
    received_at: float
    first_token_at: float | None
    finished_at: float | None
    tokens: int  # reply tokens as the fake split them
    status: int


@dataclass(frozen=True)
class TurnTrace:
    """One turn from the generator's, the model's and Slack's side (perf_counter values)."""

    sent: Sent
    model: ModelRequest | None
    first_text_at: float | None  # the first Slack call carrying reply text reached the emulator
    end_at: float | None  # chat.stopStream reached the emulator

    @property
    def complete(self) -> bool:
        return self.end_at is not None


def model_requests_by_text(requests: Iterable[dict[str, Any]]) -> dict[str, ModelRequest]:
    found: dict[str, ModelRequest] = {}
    for request in requests:
        text = last_user_text(request.get("body") or {})
        if text and text not in found:
            found[text] = ModelRequest(
                received_at=float(request["received_at"]),
                first_token_at=request.get("first_token_at"),
                finished_at=request.get("finished_at"),
                tokens=len(split_tokens(request.get("reply") or "")),
                status=int(request.get("status") or 0),
            )
    return found


def slack_times_by_thread(
    calls: Iterable[dict[str, Any]], messages: Iterable[dict[str, Any]], methods: frozenset[str]
) -> dict[tuple[str, str], list[float]]:
    """Arrival times of ``methods`` calls per (channel, thread_ts), sorted."""
    thread_of = {(m["channel"], m["ts"]): m.get("thread_ts") for m in messages}
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for call in calls:
        if call["method"] not in methods:
            continue
        args = call.get("args") or {}
        channel = str(args.get("channel", ""))
        thread = args.get("thread_ts") or thread_of.get((channel, str(args.get("ts", ""))))
        if thread:
            times[(channel, str(thread))].append(float(call["at"]))
    for values in times.values():
        values.sort()
    return times


def trace_turns(
    sent: Iterable[Sent],
    calls: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    *,
    text_methods: frozenset[str] = TEXT_METHODS,
    end_methods: frozenset[str] = END_METHODS,
) -> list[TurnTrace]:
    models = model_requests_by_text(requests)
    texts = slack_times_by_thread(calls, messages, text_methods)
    ends = slack_times_by_thread(calls, messages, end_methods)
    traces = []
    for item in sorted(sent, key=lambda s: s.sent_at):
        key = (item.event.channel, item.event.thread_ts)
        first = _first_at_or_after(texts.get(key, []), item.sent_at)
        end = _first_at_or_after(ends.get(key, []), first if first is not None else item.sent_at)
        traces.append(TurnTrace(item, models.get(item.event.text), first, end))
    return traces


def _first_at_or_after(times: list[float], start: float) -> float | None:
    index = bisect.bisect_left(times, start)
    return times[index] if index < len(times) else None
