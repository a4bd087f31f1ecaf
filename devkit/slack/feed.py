"""What the emulator saw, as a numbered feed that a browser page follows over Server-Sent Events.

Off until ``SlackEmulator.open_feed()``: tests and the benchmark pay nothing for it. Once open,
every answered Web API call, every response_url post and every action a page took as a user
is one entry, kept for replay (a page that reloads redraws everything) and pushed to each
subscriber's asyncio queue on that subscriber's own loop (the emulator answers on another).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Subscription:
    """One follower: entries arrive on ``queue``, put there from any thread."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)

    def push(self, entry: dict[str, Any] | None) -> None:
        with contextlib.suppress(RuntimeError):  # the follower's loop is closed: it has gone
            self.loop.call_soon_threadsafe(self.queue.put_nowait, entry)


class Feed:
    """Entries numbered from 1, in the order the emulator finished them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._subscriptions: list[Subscription] = []

    def publish(self, kind: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            entry = {"id": len(self._entries) + 1, "kind": kind, **fields}
            self._entries.append(entry)
            followers = list(self._subscriptions)
        for subscription in followers:
            subscription.push(entry)
        return entry

    def end(self) -> None:
        """Tell every follower the feed is over (``None``), so open SSE streams finish on shutdown."""
        with self._lock:
            followers, self._subscriptions = self._subscriptions, []
        for subscription in followers:
            subscription.push(None)

    def entries(self, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return self._entries[after:]

    def subscribe(self, after: int = 0) -> tuple[Subscription, list[dict[str, Any]]]:
        """A new follower on the running loop, with the entries it missed (no gap, no repeat)."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            missed = self._entries[after:]
            self._subscriptions.append(subscription)
        return subscription, missed

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
