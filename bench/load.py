"""The load generator: Slack-signed ``event_callback`` bodies, sent over one keep-alive aiohttp session.

Bodies are built and signed before the clock starts (``prepare``), so a burst measures the app,
not the generator. Every send records perf_counter just before the POST and when the answer has
been read; perf_counter is CLOCK_MONOTONIC on Linux, so these compare directly with the times the
fakes record in their own processes.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from devkit import payloads
from devkit.signing import sign

TEAM_ID = "T0DEVKIT"  # the emulator's defaults: what auth.test answers
BOT_USER_ID = "U0BOT"
EVENT_TIMEOUT_SECONDS = 15.0  # Slack gives up after 3 s; waiting longer lets slow acks be measured
DEVKIT_TIMEOUT_SECONDS = 30.0
CONNECTION_LIMIT = 1024
# Below uvicorn's 5 s keep-alive, so the client never reuses a connection the server is closing.
KEEPALIVE_SECONDS = 3.0

COACH_LINES = (
    "How do I give feedback to someone who gets defensive?",
    "My one-on-ones feel like status updates. How can I make them better?",
    "I have to tell my team about a reorg tomorrow. Where do I start?",
    "How can I delegate more without losing track of quality?",
    "A senior engineer keeps missing deadlines. What should I ask them?",
)


@dataclass(frozen=True)
class PreparedEvent:
    """A signed message event, ready to POST; ``text`` is unique so the model request can be found."""

    channel: str
    user: str
    ts: str
    thread_ts: str  # the session's thread: the message's own ts when it is top-level
    text: str
    body: bytes
    headers: dict[str, str]

    @property
    def top_level(self) -> bool:
        return self.ts == self.thread_ts


@dataclass
class Sent:
    """One delivery: when it left, when the answer came back, and what the answer was."""

    event: PreparedEvent
    sent_at: float
    acked_at: float | None = None
    status: int = 0  # 0: no HTTP answer (see error)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def ack_ms(self) -> float | None:
        return None if self.acked_at is None else (self.acked_at - self.sent_at) * 1000.0


class EventFactory:
    """Builds DM message events the way Slack delivers them; ts values are unique and increasing."""

    def __init__(self, signing_secret: str, run_tag: str) -> None:
        self._secret = signing_secret
        self._tag = run_tag
        self._last_ts_us = 0
        self._count = 0

    def _ts(self) -> str:
        us = max(self._last_ts_us + 1, int(time.time() * 1_000_000))
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def message(self, channel: str, user: str, thread_ts: str | None = None) -> PreparedEvent:
        """A top-level DM message (it opens a session) or, with ``thread_ts``, a follow-up in that thread."""
        self._count += 1
        ts = self._ts()
        text = f"[{self._tag}-{self._count}] {COACH_LINES[self._count % len(COACH_LINES)]}"
        event = payloads.message_event(
            channel=channel,
            user=user,
            text=text,
            ts=ts,
            team_id=TEAM_ID,
            channel_type="im",
            thread_ts=thread_ts,
        )
        body = json.dumps(payloads.event_callback(event, team_id=TEAM_ID, bot_user_id=BOT_USER_ID)).encode()
        headers = {"Content-Type": "application/json", **sign(self._secret, body)}
        return PreparedEvent(channel, user, ts, thread_ts or ts, text, body, headers)


def client_session() -> aiohttp.ClientSession:
    """The generator's one session: keep-alive, and enough connections that it never queues a send."""
    connector = aiohttp.TCPConnector(limit=CONNECTION_LIMIT, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(connector=connector)


class EventSender:
    """POSTs prepared events to one app's /slack/events."""

    def __init__(self, session: aiohttp.ClientSession, events_url: str) -> None:
        self._session = session
        self._url = events_url
        self._timeout = aiohttp.ClientTimeout(total=EVENT_TIMEOUT_SECONDS)

    async def send(self, event: PreparedEvent) -> Sent:
        sent = Sent(event, sent_at=time.perf_counter())
        try:
            async with self._session.post(
                self._url, data=event.body, headers=event.headers, timeout=self._timeout
            ) as response:
                await response.read()
                sent.acked_at = time.perf_counter()
                sent.status = response.status
        except TimeoutError:
            sent.error = "timeout"
        except aiohttp.ClientError as error:
            sent.error = type(error).__name__
        return sent

    async def warm_connections(self, count: int) -> None:
        """Open ``count`` keep-alive connections (concurrent GET /healthz), so a burst pays no TCP setup."""
        base = self._url.rsplit("/slack/", 1)[0]

        async def one() -> None:
            async with self._session.get(f"{base}/healthz", timeout=self._timeout) as response:
                await response.read()

        await asyncio.gather(*(one() for _ in range(count)))


class DevkitClient:
    """The fakes' ``/_devkit`` endpoints: what they recorded, reset, and runtime config."""

    def __init__(self, session: aiohttp.ClientSession, origin: str) -> None:
        self._session = session
        self._origin = origin
        self._timeout = aiohttp.ClientTimeout(total=DEVKIT_TIMEOUT_SECONDS)

    async def get(self, path: str, **params: str) -> Any:
        async with self._session.get(f"{self._origin}{path}", params=params, timeout=self._timeout) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._session.post(
            f"{self._origin}{path}", json=body or {}, timeout=self._timeout
        ) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def reset(self) -> None:
        await self.post("/_devkit/reset")
