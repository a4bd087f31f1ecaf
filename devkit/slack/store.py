"""The emulator's message store: messages by channel and by thread, and ts ordering."""

from __future__ import annotations

from dataclasses import dataclass, field

from devkit.slack.records import Message


@dataclass
class MessageStore:
    """Messages by channel and by thread; plain dicts so lookups stay O(1) under load."""

    by_channel: dict[str, dict[str, Message]] = field(default_factory=dict)
    by_thread: dict[tuple[str, str], list[Message]] = field(default_factory=dict)

    def add(self, message: Message) -> None:
        self.by_channel.setdefault(message.channel, {})[message.ts] = message
        if message.thread_ts is not None:
            self.by_thread.setdefault((message.channel, message.thread_ts), []).append(message)

    def get(self, channel: str, ts: str) -> Message | None:
        return self.by_channel.get(channel, {}).get(ts)

    def remove(self, message: Message) -> None:
        self.by_channel.get(message.channel, {}).pop(message.ts, None)
        if message.thread_ts is not None:
            thread = self.by_thread.get((message.channel, message.thread_ts), [])
            if message in thread:
                thread.remove(message)


def ts_key(message: Message) -> tuple[int, int]:
    """Sort key of a message ts ("seconds.micros"), numeric so 9.9 sorts before 10.0."""
    seconds, _, micros = message.ts.partition(".")
    return int(seconds), int(micros or 0)


def enough(replies: list[Message], count: int, complete: bool) -> bool:
    """Whether ``replies`` satisfy a wait for ``count`` replies (all finished streaming if ``complete``)."""
    if len(replies) < count:
        return False
    return not complete or all(not m.streaming for m in replies)
