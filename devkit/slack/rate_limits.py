"""Slack's Web API rate limits: per method, per app, per workspace, with a burst allowance.

From Slack's rate-limit page (docs.slack.dev/apis/web-api/rate-limits) and each method's page:
Tier 1 is 1+ a minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, each "with occasional bursts".
``chat.postMessage`` is special: about one message a second per channel, short bursts above
that, "while also maintaining a workspace-wide limit". Slack publishes no figure for that
workspace-wide limit; the emulator holds it to 300 a minute (5 a second, bursts of 60), a
conservative reading of "several hundred a minute", so an app that only survives on more is
caught here, not in a real workspace. A call over its limit is answered as Slack does: HTTP 429,
a ``Retry-After`` header in whole seconds, and ``{"ok": false, "error": "ratelimited"}``.

Each limit is a token bucket: ``burst`` calls at once from rest, refilled at ``per_minute``.
A refused call takes no token, so a client that honours Retry-After gets through.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from devkit.slack.records import SlackError


@dataclass(frozen=True)
class Limit:
    """``per_minute`` sustained, ``burst`` at once from rest."""

    per_minute: float
    burst: int


TIER_1 = Limit(per_minute=1, burst=3)  # "a small amount of burst behaviour is tolerated"
TIER_2 = Limit(per_minute=20, burst=20)  # "occasional bursts of more requests"
TIER_3 = Limit(per_minute=50, burst=50)  # "sporadic bursts are welcome"
TIER_4 = Limit(per_minute=100, burst=100)  # "generous burst behaviour"
POST_MESSAGE_PER_CHANNEL = Limit(per_minute=60, burst=3)  # 1 a second, "short bursts >1 allowed"
POST_MESSAGE_PER_WORKSPACE = Limit(per_minute=300, burst=60)  # no documented figure: see above

# The documented tier of every method the emulator implements (each method's page, "Rate Limits").
# "Special" methods without a figure (auth.test, assistant.threads.setStatus) are held to Tier 4.
METHOD_LIMITS: dict[str, Limit] = {
    "apps.connections.open": TIER_1,
    "auth.test": TIER_4,  # special
    "assistant.threads.setStatus": TIER_4,  # special
    "assistant.threads.setSuggestedPrompts": TIER_4,
    "assistant.threads.setTitle": TIER_4,
    "chat.appendStream": TIER_4,
    "chat.delete": TIER_3,
    "chat.getPermalink": TIER_4,  # special ("hundreds of requests per minute")
    "chat.postEphemeral": TIER_4,
    "chat.postMessage": POST_MESSAGE_PER_WORKSPACE,  # plus POST_MESSAGE_PER_CHANNEL
    "chat.startStream": TIER_2,
    "chat.stopStream": TIER_2,
    "chat.update": TIER_3,
    "conversations.history": TIER_3,
    "conversations.open": TIER_3,
    "conversations.replies": TIER_3,
    "files.completeUploadExternal": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.info": TIER_4,
    "oauth.v2.access": TIER_4,  # special; counted per app (no token: the client id)
    "reactions.add": TIER_3,
    "reactions.remove": TIER_2,
    "users.info": TIER_4,
    "views.open": TIER_4,
    "views.publish": TIER_4,
    "views.update": TIER_4,
}
PER_CHANNEL_LIMITS: dict[str, Limit] = {"chat.postMessage": POST_MESSAGE_PER_CHANNEL}


class RateLimited(SlackError):
    """Answered as HTTP 429 with ``Retry-After: retry_after``."""

    def __init__(self, retry_after: int):
        super().__init__("ratelimited")
        self.retry_after = retry_after


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float):
        self.tokens = tokens
        self.at = at


class RateLimiter:
    """Token buckets keyed by (workspace, method[, channel]); ``check`` takes a token or raises."""

    def __init__(
        self,
        clock: Callable[[], float],
        limits: dict[str, Limit | None] | None = None,
        per_channel: dict[str, Limit | None] | None = None,
    ):
        self._clock = clock
        self.limits: dict[str, Limit | None] = {**METHOD_LIMITS, **(limits or {})}
        self.per_channel: dict[str, Limit | None] = {**PER_CHANNEL_LIMITS, **(per_channel or {})}
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._lock = threading.Lock()
        self._refused: dict[str, int] = {}

    def check(self, team_id: str, method: str, channel: str | None = None) -> None:
        """Spend one call of ``method`` in ``team_id``, or raise RateLimited with the wait."""
        keys: list[tuple[tuple[str, ...], Limit]] = []
        limit = self.limits.get(method)
        if limit is not None:
            keys.append(((team_id, method), limit))
        channel_limit = self.per_channel.get(method)
        if channel_limit is not None and channel:
            keys.append(((team_id, method, channel), channel_limit))
        if not keys:
            return
        now = self._clock()
        with self._lock:
            buckets = [(self._refilled(key, lim, now), lim) for key, lim in keys]
            short = [(bucket, lim) for bucket, lim in buckets if bucket.tokens < 1.0]
            if short:
                self._refused[method] = self._refused.get(method, 0) + 1
                wait = max((1.0 - bucket.tokens) * 60.0 / lim.per_minute for bucket, lim in short)
                raise RateLimited(max(1, math.ceil(wait)))
            for bucket, _ in buckets:
                bucket.tokens -= 1.0

    def _refilled(self, key: tuple[str, ...], limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
            return bucket
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.per_minute / 60.0)
        bucket.at = now
        return bucket

    def refused_counts(self) -> dict[str, int]:
        """Calls answered 429, by method, since the last reset."""
        with self._lock:
            return dict(self._refused)

    def reset(self) -> None:
        """Full buckets and zero counters, as after a quiet minute."""
        with self._lock:
            self._buckets.clear()
            self._refused.clear()
