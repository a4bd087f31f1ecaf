"""Slack's rate limits as a budget the reply writer spends, per workspace and per method.

Slack limits each Web API method per app per workspace (its tiers: Tier 2 is 20+
calls a minute, Tier 3 50+, Tier 4 100+), and chat.postMessage per channel (about
one a second) plus workspace-wide. So the budget is kept per workspace (its team
id; each ``SlackConversation`` names the token it uses for it, so a 429 on that
token reaches the right workspace). Each (workspace, method) is a token bucket refilled at
the documented rate; every HTTP 429 Slack answers empties the bucket and pauses
it for the ``Retry-After`` seconds (``BudgetedRateLimitRetryHandler``, slack_sdk's
own rate-limit retry handler, reports them; it still does the waiting and the retry).

Writers ask before they call: calls that may be skipped (an append, an edit) only
take what is there; calls that must happen (a stop, a whole reply) wait for it.

Bursts. Slack publishes each tier's floor and says it tolerates bursts above it
("occasional bursts" for Tier 2, "sporadic bursts are welcome" for Tier 3,
"generous burst behavior" for Tier 4) without a figure. The budget allows a burst
of one minute's worth of each tier (20 stream starts and stops, 50 edits, 100
appends), as the devkit emulator reads those pages: a quiet minute has left that
much unspent. Being wrong costs little: a 429 empties the bucket for its
Retry-After at once, a refused chat.startStream falls back to a post that is edited
once at the end (no reply is lost, no wait), and a refused edit is retried by
slack_sdk. Half a minute's worth (the earlier choice) had 50 coaches arriving at
once in one workspace get 10 streams and 40 replies posted only when complete;
with a minute's worth, about 20 stream and the rest show their first text at once
(docs/PERFORMANCE.md has the figures). chat.postMessage's workspace-wide limit is
not published, so its burst stays below the emulator's conservative 60.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.operations.config_errors import method_of

START_STREAM = "chat.startStream"
APPEND_STREAM = "chat.appendStream"
STOP_STREAM = "chat.stopStream"
UPDATE = "chat.update"
POST_MESSAGE = "chat.postMessage"
#: Tokens whose workspace the budget remembers (one per installed workspace; rotated ones age out).
WORKSPACES_REMEMBERED = 100_000
#: chat.postMessage's per-channel bucket is kept under this method name.
POST_MESSAGE_IN_CHANNEL = "chat.postMessage#channel"


@dataclass(frozen=True)
class Limit:
    """A sustained rate and the burst Slack tolerates above it."""

    per_minute: float
    burst: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


#: Slack's documented floors ("20+", "50+", "100+"): the budget never counts on more, and on
#: bursts of one minute's worth (see the module docstring for why).
SLACK_LIMITS: dict[str, Limit] = {
    START_STREAM: Limit(per_minute=20, burst=20),  # Tier 2
    STOP_STREAM: Limit(per_minute=20, burst=20),  # Tier 2
    APPEND_STREAM: Limit(per_minute=100, burst=100),  # Tier 4
    UPDATE: Limit(per_minute=50, burst=50),  # Tier 3
    # Special tier: ~1 a second per channel with short bursts, and a workspace-wide limit that Slack
    # does not publish; several hundred a minute is what it tolerates in practice.
    POST_MESSAGE: Limit(per_minute=300, burst=50),
    POST_MESSAGE_IN_CHANNEL: Limit(per_minute=60, burst=3),
}


#: A method the budget does not pace (or any method with ``SLACK_RATE_BUDGET=off``): only a 429 stops it.
UNPACED = Limit(per_minute=6_000_000, burst=100_000)


class TokenBucket:
    """``limit.burst`` calls at once, refilled at ``limit.per_second``; a 429 empties and pauses it."""

    def __init__(self, limit: Limit, clock: Callable[[], float]) -> None:
        self._rate = limit.per_second
        self._capacity = max(1.0, limit.burst)
        self._clock = clock
        self._tokens = self._capacity
        self._updated = clock()
        self._paused_until = 0.0

    def _refill(self) -> float:
        now = self._clock()
        start = max(self._updated, self._paused_until)
        if now > start:
            self._tokens = min(self._capacity, self._tokens + (now - start) * self._rate)
        self._updated = max(now, self._updated)
        return now

    def wait_time(self) -> float:
        """Seconds until one call may be made (0 when it may be made now)."""
        now = self._refill()
        paused = max(0.0, self._paused_until - now)
        if self._tokens >= 1.0:
            return paused
        return max(paused, 0.0) + (1.0 - self._tokens) / self._rate

    def take(self) -> None:
        self._refill()
        self._tokens -= 1.0

    def pause(self, seconds: float) -> None:
        now = self._refill()
        self._tokens = 0.0
        self._paused_until = max(self._paused_until, now + seconds)

    @property
    def rate(self) -> float:
        return self._rate


class SlackRateBudget:
    """Per-workspace, per-method budgets, and how many replies stream in each workspace now."""

    def __init__(
        self,
        limits: dict[str, Limit] | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = dict(SLACK_LIMITS if limits is None else limits)
        self.enabled = enabled
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._open_streams: dict[str, int] = {}
        # Which workspace a bot token speaks for: a 429 names only the token it was sent with.
        self._workspace_of: LRUCache[str, str] = LRUCache(maxsize=WORKSPACES_REMEMBERED)

    def name_workspace(self, token: str | None, workspace: str) -> None:
        """Remember that ``token``'s calls are ``workspace``'s (each conversation says so)."""
        if token and workspace and self._workspace_of.get(token) != workspace:
            self._workspace_of[token] = workspace

    def workspace_of(self, token: str) -> str:
        """The workspace a token's 429 belongs to (the token itself for one never named)."""
        return self._workspace_of.get(token, token)

    def _bucket(
        self, workspace: str, method: str, channel: str = "", *, pausable: bool = False
    ) -> TokenBucket | None:
        """The method's bucket; one that only a 429 can empty when it has no limit and ``pausable``."""
        key = (workspace, method, channel)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self._limits.get(method) or (UNPACED if pausable else None)
            if limit is None:
                return None
            bucket = self._buckets[key] = TokenBucket(limit, self._clock)
        return bucket

    def _buckets_for(self, workspace: str, calls: Iterable[tuple[str, str]]) -> list[TokenBucket]:
        found = (self._bucket(workspace, method, channel) for method, channel in calls)
        return [bucket for bucket in found if bucket is not None]

    def wait_time(self, workspace: str, method: str, *, channel: str = "") -> float:
        """Seconds until ``method`` may be called in ``workspace`` (0: now); spends nothing."""
        if not self.enabled:
            return 0.0
        buckets = self._buckets_for(workspace, self._with_channel((method,), channel))
        return max((bucket.wait_time() for bucket in buckets), default=0.0)

    def try_take(self, workspace: str, *methods: str, channel: str = "") -> bool:
        """Spend one call of each of ``methods`` if all have one now (all or nothing); never waits."""
        if not self.enabled:
            return True
        buckets = self._buckets_for(workspace, self._with_channel(methods, channel))
        if any(bucket.wait_time() > 0 for bucket in buckets):
            return False
        for bucket in buckets:
            bucket.take()
        return True

    async def take(self, workspace: str, method: str, *, channel: str = "") -> float:
        """Spend one call of ``method``, waiting for the budget; returns the seconds waited."""
        if not self.enabled:
            return 0.0
        waited = 0.0
        while not self.try_take(workspace, method, channel=channel):
            pause = max(self.wait_time(workspace, method, channel=channel), 0.001)
            await asyncio.sleep(pause)
            waited += pause
        return waited

    def rate_limited(self, workspace: str, method: str, retry_after: float) -> None:
        """Slack answered 429: nothing more of ``method`` in this workspace for ``retry_after`` s."""
        # chat.postMessage's 429 does not say whether the channel or the workspace was over: the
        # whole workspace waits, which is what Retry-After asks of the app anyway.
        bucket = self._bucket(workspace, method, pausable=True)
        if bucket is not None:
            bucket.pause(retry_after)

    # ------------------------------------------------------------------ streams in a workspace

    def stream_opened(self, workspace: str) -> None:
        self._open_streams[workspace] = self._open_streams.get(workspace, 0) + 1

    def stream_closed(self, workspace: str) -> None:
        left = self._open_streams.get(workspace, 0) - 1
        if left > 0:
            self._open_streams[workspace] = left
        else:
            self._open_streams.pop(workspace, None)

    def open_streams(self, workspace: str) -> int:
        return self._open_streams.get(workspace, 0)

    def append_interval(self, workspace: str, at_least: float) -> float:
        """How often each open stream may append, so that together they stay within appendStream's rate."""
        limit = self._limits.get(APPEND_STREAM)
        if not self.enabled or limit is None:
            return at_least
        return max(at_least, self.open_streams(workspace) / limit.per_second)

    @staticmethod
    def _with_channel(methods: Iterable[str], channel: str) -> list[tuple[str, str]]:
        calls = [(method, "") for method in methods]
        if channel and POST_MESSAGE in methods:
            calls.append((POST_MESSAGE_IN_CHANNEL, channel))
        return calls


class BudgetedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's rate-limit retry handler (it waits out ``Retry-After`` and retries), which first
    tells the budget of every 429, so every other reply in the workspace knows at once.

    A method in ``fall_back`` is not retried: its caller has a better answer than waiting (a reply
    whose chat.startStream is refused is posted whole once complete, instead of waiting a minute
    to start streaming).
    """

    def __init__(
        self, budget: SlackRateBudget, *, max_retry_count: int = 3, fall_back: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._budget = budget
        self._fall_back = fall_back

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        method = method_of(request.url)
        token = _bearer_token(request.headers)
        if token:
            self._budget.rate_limited(
                self._budget.workspace_of(token), method, _retry_after(response.headers)
            )
        if method in self._fall_back:
            return False
        return await super().can_retry_async(state=state, request=request, response=response, error=error)


def _header(headers: dict[str, Any], wanted: str) -> str | None:
    """One header's value; slack_sdk keeps each as a list of values."""
    for name, value in headers.items():
        if name.lower() == wanted:
            return str(value[0] if isinstance(value, list | tuple) and value else value)
    return None


def _bearer_token(headers: dict[str, Any]) -> str | None:
    value = _header(headers, "authorization") or ""
    return value[len("Bearer ") :] if value.startswith("Bearer ") else None


def _retry_after(headers: dict[str, Any]) -> float:
    try:
        return max(0.0, float(_header(headers, "retry-after") or 1.0))
    except ValueError:
        return 1.0
