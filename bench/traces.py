"""Line up each sent event with what the fakes recorded for it, across the three processes.

- The model request is the one whose last user message is the event's (unique) text.
- Slack calls are grouped by thread: chat.startStream / chat.postMessage name it in ``thread_ts``;
  chat.stopStream and chat.update name only the message ts, which the emulator's message store maps
  to its thread. Turns in one thread are sequential (the generator waits for a reply before the
  next message), so a turn's calls are those between its send time and the thread's next send.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.load import Sent
from devkit.fake_openai import last_user_text, split_tokens

TEXT_METHODS = frozenset({"chat.startStream", "chat.postMessage"})
#: A reply ends with chat.stopStream; without a stream, with its post (posted whole) or with the
#: chat.update that completes a post (post and edit). A long reply ends with its last message's.
END_METHODS = frozenset({"chat.stopStream", "chat.postMessage", "chat.update"})


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
    end_at: float | None  # the reply's last writing call (stop, post or update) reached the emulator

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
    ordered = sorted(sent, key=lambda s: s.sent_at)
    next_send: dict[int, float] = {}  # a turn's calls end where the next turn in its thread begins
    later: dict[tuple[str, str | None], float] = {}
    for item in reversed(ordered):
        key = (item.event.channel, item.event.thread_ts)
        next_send[id(item)] = later.get(key, float("inf"))
        later[key] = item.sent_at
    traces = []
    for item in ordered:
        key = (item.event.channel, item.event.thread_ts)
        first = _first_at_or_after(texts.get(key, []), item.sent_at)
        start = first if first is not None else item.sent_at
        end = _last_before(ends.get(key, []), start, next_send[id(item)])
        traces.append(TurnTrace(item, models.get(item.event.text), first, end))
    return traces


def _first_at_or_after(times: list[float], start: float) -> float | None:
    index = bisect.bisect_left(times, start)
    return times[index] if index < len(times) else None


def _last_before(times: list[float], start: float, stop: float) -> float | None:
    """The last of ``times`` in [start, stop), if any."""
    index = bisect.bisect_left(times, stop) - 1
    return times[index] if index >= 0 and times[index] >= start else None


def deliveries(
    sent: list[Sent],
    calls: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    requests: list[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Per coach's DM: how the reply went out, whether it is the model's text exactly, its calls."""
    replies = _replies_by_text(requests)
    bot_text: dict[str, list[str]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: float(m["ts"])):
        if message.get("bot_id") and message.get("thread_ts"):
            bot_text[str(message["channel"])].append(str(message["text"]))
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        by_channel[str((call.get("args") or {}).get("channel", ""))].append(call)
    found = {}
    for item in sent:
        channel = item.event.channel
        mine = [c for c in by_channel[channel] if str(c["method"]).startswith("chat.")]
        started = [c for c in mine if c["method"] == "chat.startStream" and c.get("status") == 200]
        stops = [c for c in mine if c["method"] == "chat.stopStream" and c.get("status") == 200]
        expected = replies.get(item.event.text, "")
        texts = bot_text[channel]
        seconds = (float(stops[-1]["at"]) - float(started[0]["at"])) if started and stops else 0.0
        posted = not started and any(c["method"] == "chat.postMessage" for c in mine)
        edited = posted and any(c["method"] == "chat.update" and c.get("status") == 200 for c in mine)
        found[channel] = {
            "streamed": bool(started),
            "post_and_edit": edited,
            "posted_whole": posted and not edited,
            "intact": bool(expected) and "".join(texts) == expected,
            "error_messages": sum(1 for t in texts if expected and t not in expected),
            "calls": len(mine),
            "allowed_calls": 2 + math.ceil(seconds),
        }
    return found


def delivery_counts(delivery: dict[str, dict[str, Any]]) -> dict[str, int]:
    """How many replies streamed, were posted then edited once, were posted whole; errors seen."""
    return {
        "streamed": sum(1 for d in delivery.values() if d["streamed"]),
        "post_and_edit": sum(1 for d in delivery.values() if d["post_and_edit"]),
        "posted_whole": sum(1 for d in delivery.values() if d["posted_whole"]),
        "coach_visible_errors": sum(d["error_messages"] for d in delivery.values()),
    }


def _replies_by_text(requests: list[dict[str, Any]]) -> dict[str, str]:
    """The text the fake model served for each coach message it answered."""
    texts: dict[str, str] = {}
    for request in requests:
        text = last_user_text(request.get("body") or {})
        if text and request.get("reply") and int(request.get("status") or 0) == 200:
            texts.setdefault(text, str(request["reply"]))
    return texts
