"""A local Slack: the Web API the app calls, plus the Events API side that calls the app.

Socket Mode too: ``apps.connections.open`` (app-level ``xapp-`` token) hands out a
``ws://`` URL served here, and ``send_socket_event`` pushes an ``events_api``
envelope down that WebSocket and waits for the app's ack.

Real HTTP on 127.0.0.1 so the app's own slack_sdk/slack_bolt code runs unmodified:
point ``WebClient(base_url=emulator.base_url)`` at it, and have the emulator
deliver signed events to the app's request URL. Every Web API call is recorded so
tests (and, over ``GET /_devkit/calls``, the benchmark) can assert on it.

Run standalone with ``python -m devkit.slack_emulator --port 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import http.client
import inspect
import itertools
import json
import mimetypes
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from devkit import payloads
from devkit._server import BackgroundServer, serve_until_signalled
from devkit.signing import sign

MARKDOWN_TEXT_LIMIT = 12_000  # per chat.*Stream call
MESSAGE_TEXT_LIMIT = 40_000  # per message, streamed or not

DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "U0COACH": {"name": "coach", "is_admin": False, "is_owner": False},
    "U0ADMIN": {"name": "admin", "is_admin": True, "is_owner": False},
    "U0OWNER": {"name": "owner", "is_admin": True, "is_owner": True},
}

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


class SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}`` (HTTP 200, like Slack)."""

    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class RecordedCall:
    """One Web API call as the emulator received it (``token`` removed from args)."""

    method: str
    args: dict[str, Any]
    at: float  # time.perf_counter() on arrival
    wall: float  # time.time() on arrival
    status: int = 200  # HTTP status answered
    error: str | None = None  # Slack ``error`` answered, None when ok

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Message:
    """A message in the emulator's store; bot messages carry ``bot_id``."""

    ts: str
    channel: str
    thread_ts: str | None
    text: str
    user: str | None = None
    bot_id: str | None = None
    streaming: bool = False
    updates: int = 0  # edits after creation: chat.update, chat.appendStream, chat.stopStream
    blocks: list[Any] | None = None
    files: list[dict[str, Any]] | None = None  # shared with files.completeUploadExternal

    @property
    def is_bot(self) -> bool:
        return self.bot_id is not None

    def to_slack(self) -> dict[str, Any]:
        """The message as Slack's API returns it (conversations.*, chat.* ``message``)."""
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user is not None:
            out["user"] = self.user
        if self.bot_id is not None:
            out["bot_id"] = self.bot_id
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if self.blocks:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = self.files
        return out


@dataclass
class Delivery:
    """What the app answered to one request the emulator sent it (headers lower-cased)."""

    status: int  # 0 when no HTTP answer arrived (see ``error``)
    body: bytes
    headers: dict[str, str]
    elapsed_ms: float
    error: str | None = None  # Slack retry reason when no answer: "http_timeout", "connection_failed"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class ResponseUrlPost:
    """A payload the app POSTed to a slash command's response_url."""

    response_id: str
    body: Any
    at: float
    wall: float


# Generated file bytes repeat a 64 KiB pseudo-random block derived from the file id, served
# 1 MiB at a time: a 1 GB file costs one block of memory and its sha256 is reproducible.
_PATTERN_BLOCK = 64 * 1024
_SERVE_CHUNK = 1024 * 1024

LOGIN_PAGE_HTML = (
    "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head>"
    '<body><h1>Sign in to devkit</h1><form action="/signin" method="post">'
    '<input name="email"><button>Sign in</button></form></body></html>'
)


@dataclass
class _Upload:
    """A file_upload_v2 upload between files.getUploadURLExternal and files.completeUploadExternal."""

    name: str
    length: int
    content: bytes | None = None


@dataclass
class _File:
    """A file shared in the workspace: its Slack object and how its download behaves."""

    info: dict[str, Any]
    content: bytes | None
    size: int
    serve_login_page: bool = False
    fail_download: bool | str = False
    downloads: int = 0
    _chunk: bytes | None = None

    def chunk(self) -> bytes:
        """One serving chunk of the generated pattern (built once, reused for every chunk)."""
        if self._chunk is None:
            seed = self.info["id"].encode()
            block = b"".join(
                hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(_PATTERN_BLOCK // 32)
            )
            self._chunk = block * (_SERVE_CHUNK // _PATTERN_BLOCK)
        return self._chunk

    def pieces(self, limit: int | None = None) -> Iterator[bytes]:
        """The file's bytes, lazily, up to ``limit`` bytes."""
        end = self.size if limit is None else min(limit, self.size)
        if self.content is not None:
            for start in range(0, end, _SERVE_CHUNK):
                yield self.content[start : min(start + _SERVE_CHUNK, end)]
            return
        chunk, sent = self.chunk(), 0
        while sent < end:
            piece = chunk if end - sent >= len(chunk) else chunk[: end - sent]
            sent += len(piece)
            yield piece


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class _Store:
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


class SlackEmulator:
    """Slack Web API + Events API sender on 127.0.0.1. ``start()`` it, or use it as a context manager."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-devkit",
        app_token: str = "xapp-devkit",
        team_id: str = "T0DEVKIT",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        signing_secret: str = "devkit-signing-secret",
        users: dict[str, dict[str, Any]] | None = None,
        app_id: str = payloads.DEFAULT_APP_ID,
        team_domain: str = "devkit",
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.signing_secret = signing_secret
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.app_id = app_id
        self.team_domain = team_domain
        # The bot token's scopes, sent as Slack does in each answer's x-oauth-scopes header (None: no header).
        self.scopes: list[str] | None = None
        self._server = BackgroundServer(self._make_app, host=host, port=port)
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._calls_by_method: dict[str, list[RecordedCall]] = {}
        self._response_posts: list[ResponseUrlPost] = []
        self._store = _Store()
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._last_ts_us = 0
        self._response_ids = itertools.count(1)
        self._socket_ids = itertools.count(1)
        self._socket_clients: dict[str, _SocketClient] = {}
        self._socket_acks: list[dict[str, Any]] = []
        self._socket_changed = threading.Condition(self._lock)
        self._files: dict[str, _File] = {}
        self._file_ids = itertools.count(1)
        self._uploads: dict[str, _Upload] = {}  # files_upload_v2: reserved, bytes received or not
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": _just_ok,
            "assistant.threads.setTitle": _just_ok,
            "assistant.threads.setSuggestedPrompts": _just_ok,
            "reactions.add": _just_ok,  # recorded calls are what tests check
            "reactions.remove": _just_ok,
            "users.info": self._users_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> SlackEmulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return self._server.origin

    @property
    def base_url(self) -> str:
        """What slack_sdk's ``base_url`` takes: the client POSTs ``{base_url}{method}``."""
        return f"{self.origin}/api/"

    def register(self, method: str, handler: Handler) -> None:
        """Answer ``method`` with ``handler(args) -> dict`` (may be async; raise SlackError for ok:false)."""
        self._handlers[method] = handler

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        **profile: Any,
    ) -> None:
        """Add (or replace) a workspace member; users.info answers with these admin flags."""
        with self._lock:
            self.users[user_id] = {
                "name": name or user_id.lower(),
                "is_admin": is_admin,
                "is_owner": is_owner,
                "is_primary_owner": is_primary_owner,
                **profile,
            }

    # ----------------------------------------------------------------- records

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls_by_method.get(method, ()))

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._calls_by_method.clear()
            self._response_posts.clear()

    def response_url_posts(self, response_id: str | None = None) -> list[ResponseUrlPost]:
        with self._lock:
            posts = list(self._response_posts)
        return posts if response_id is None else [p for p in posts if p.response_id == response_id]

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            self._calls.append(call)
            self._calls_by_method.setdefault(call.method, []).append(call)

    # ----------------------------------------------------------------- message store

    def ts(self) -> str:
        """A fresh message ts: wall-clock based, unique and strictly increasing."""
        with self._lock:
            us = max(self._last_ts_us + 1, int(time.time() * 1_000_000))
            self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def messages(self, channel: str) -> list[Message]:
        """Snapshot copies of a channel's messages, in ts order."""
        with self._lock:
            found = [dataclasses.replace(m) for m in self._store.by_channel.get(channel, {}).values()]
        return sorted(found, key=_ts_key)

    def replies_in(self, channel: str, thread_ts: str) -> list[Message]:
        """Snapshot copies of the bot's messages in a thread, in ts order."""
        with self._lock:
            found = [
                dataclasses.replace(m)
                for m in self._store.by_thread.get((channel, thread_ts), ())
                if m.is_bot
            ]
        return sorted(found, key=_ts_key)

    def wait_for_replies(
        self,
        channel: str,
        thread_ts: str,
        count: int = 1,
        timeout: float = 10.0,
        complete: bool = True,
        poll: float = 0.01,
    ) -> list[Message]:
        """Block until the thread has ``count`` bot replies (finished streaming if ``complete``).

        Blocks the calling thread: from a coroutine whose loop also runs the app, use
        ``wait_for_replies_async`` instead.
        """
        deadline = time.monotonic() + timeout
        while True:
            replies = self.replies_in(channel, thread_ts)
            if _enough(replies, count, complete):
                return replies
            if time.monotonic() >= deadline:
                raise AssertionError(
                    self._describe_wait(channel, thread_ts, count, timeout, complete, replies)
                )
            time.sleep(poll)

    async def wait_for_replies_async(
        self,
        channel: str,
        thread_ts: str,
        count: int = 1,
        timeout: float = 10.0,
        complete: bool = True,
        poll: float = 0.01,
    ) -> list[Message]:
        """``wait_for_replies`` that yields to the event loop between polls."""
        deadline = time.monotonic() + timeout
        while True:
            replies = self.replies_in(channel, thread_ts)
            if _enough(replies, count, complete):
                return replies
            if time.monotonic() >= deadline:
                raise AssertionError(
                    self._describe_wait(channel, thread_ts, count, timeout, complete, replies)
                )
            await asyncio.sleep(poll)

    def _describe_wait(
        self, channel: str, thread_ts: str, count: int, timeout: float, complete: bool, replies: list[Message]
    ) -> str:
        kind = "complete " if complete else ""
        seen = "; ".join(f"ts={m.ts} streaming={m.streaming} text={m.text[:80]!r}" for m in replies) or "none"
        recent = ", ".join(
            f"{c.method}({c.args.get('channel', '')})" + (f"->{c.error}" if c.error else "")
            for c in self.calls[-12:]
        )
        return (
            f"expected {count} {kind}bot reply(ies) in {channel} thread {thread_ts} within {timeout}s; "
            f"saw {len(replies)}: {seen}. Last Web API calls: {recent or 'none'}"
        )

    def _new_bot_message(self, channel: str, thread_ts: str | None, text: str, **extra: Any) -> Message:
        message = Message(
            ts=self.ts(),
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            user=self.bot_user_id,
            bot_id=self.bot_id,
        )
        for key, value in extra.items():
            setattr(message, key, value)
        with self._lock:
            self._store.add(message)
        return message

    def _find(self, args: dict[str, Any]) -> Message:
        with self._lock:
            message = self._store.get(str(args.get("channel", "")), str(args.get("ts", "")))
        if message is None:
            raise SlackError("message_not_found")
        return message

    # ----------------------------------------------------------------- faults

    def fail(
        self,
        method: str,
        *,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` ("*" = any) with ``status`` and ok:false."""
        fault = _Fault(error=error, status=status, retry_after=retry_after, remaining=times)
        with self._lock:
            self._faults.setdefault(method, deque()).append(fault)

    def delay(self, method: str, seconds: float) -> None:
        """Add ``seconds`` of latency to every call of ``method`` ("*" = any)."""
        with self._lock:
            self._delays[method] = seconds

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.popleft()
                    return fault
        return None

    def _delay_for(self, method: str) -> float:
        with self._lock:
            return self._delays.get(method, 0.0) + self._delays.get("*", 0.0)

    # ----------------------------------------------------------------- HTTP server side

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket/{socket_id}", self._handle_socket)
        app.on_shutdown.append(self._close_sockets)
        app.router.add_post("/response_url/{response_id}", self._handle_response_url)
        app.router.add_get("/_devkit/calls", self._handle_devkit_calls)
        app.router.add_get("/_devkit/messages", self._handle_devkit_messages)
        app.router.add_get("/_devkit/response_urls", self._handle_devkit_response_urls)
        app.router.add_post("/_devkit/reset", self._handle_devkit_reset)
        app.router.add_get("/files-pri/{file_id}/{rest:.+}", self._handle_file_download)
        app.router.add_get("/signin", self._handle_login_page)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        return app

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at, wall = time.perf_counter(), time.time()
        try:
            args, token = await _read_args(request)
        except ValueError:
            args, token = {}, None
            call = RecordedCall(method, args, at, wall, error="invalid_json")
            self._record(call)
            return web.json_response({"ok": False, "error": "invalid_json"})
        call = RecordedCall(method, args, at, wall)
        self._record(call)
        pause = self._delay_for(method)
        if pause > 0:
            await asyncio.sleep(pause)
        status, body, headers = await self._answer(method, args, token)
        if token == self.bot_token and self.scopes is not None:
            headers = {**headers, "x-oauth-scopes": ",".join(self.scopes)}
        call.status, call.error = status, body.get("error")
        return web.json_response(body, status=status, headers=headers)

    async def _answer(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":  # the one method that takes the app-level token
            if token != self.app_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": self._new_socket_url()}, {}
        if token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        fault = self._take_fault(method)
        if fault is not None:
            headers = {}
            if fault.status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return fault.status, {"ok": False, "error": fault.error}, headers
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        try:
            result = handler(args)
            if inspect.isawaitable(result):
                result = await result
        except SlackError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}
        return 200, {"ok": True, **result}, {}

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        post = ResponseUrlPost(request.match_info["response_id"], body, time.perf_counter(), time.time())
        with self._lock:
            self._response_posts.append(post)
        return web.Response(text="ok")

    async def _handle_devkit_calls(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        calls = self.calls_to(method) if method else self.calls
        # ?since=N: only the calls after the first N (of this method), so a poller's cost stays flat.
        since = request.query.get("since", "")
        if since.isdigit():
            calls = calls[int(since) :]
        return web.json_response([dataclasses.asdict(c) for c in calls], dumps=_dumps)

    async def _handle_devkit_messages(self, request: web.Request) -> web.Response:
        channel = request.query.get("channel")
        with self._lock:
            channels = [channel] if channel else list(self._store.by_channel)
        found = [m for ch in channels for m in self.messages(ch)]
        return web.json_response([dataclasses.asdict(m) for m in found], dumps=_dumps)

    async def _handle_devkit_response_urls(self, request: web.Request) -> web.Response:
        posts = self.response_url_posts(request.query.get("id"))
        return web.json_response([dataclasses.asdict(p) for p in posts], dumps=_dumps)

    async def _handle_devkit_reset(self, request: web.Request) -> web.Response:
        self.reset_calls()
        self.clear_faults()
        return web.json_response({"ok": True})

    # ----------------------------------------------------------------- Socket Mode

    def _new_socket_url(self) -> str:
        socket_id = f"{next(self._socket_ids)}-{secrets.token_hex(4)}"
        return f"ws://{urlsplit(self.origin).netloc}/socket/{socket_id}"

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers the client's pings itself
        await ws.prepare(request)
        socket_id = request.match_info["socket_id"]
        client = _SocketClient(socket_id, ws, asyncio.get_running_loop())
        with self._socket_changed:
            self._socket_clients[socket_id] = client
            count = len(self._socket_clients)
            self._socket_changed.notify_all()
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": count,
                    "debug_info": {
                        "host": "devkit-slack-emulator",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("envelope_id"):
                    with self._socket_changed:
                        self._socket_acks.append(data)
                        self._socket_changed.notify_all()
        finally:
            with self._socket_changed:
                self._socket_clients.pop(socket_id, None)
                self._socket_changed.notify_all()
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        with self._lock:
            clients = list(self._socket_clients.values())
        for client in clients:
            await client.ws.close(code=1001, message=b"server shutdown")

    @property
    def socket_clients(self) -> list[str]:
        """Ids of the Socket Mode connections currently open."""
        with self._lock:
            return list(self._socket_clients)

    @property
    def socket_acks(self) -> list[dict[str, Any]]:
        """Every ``{"envelope_id": ..., "payload"?: ...}`` ack received over Socket Mode, in order."""
        with self._lock:
            return list(self._socket_acks)

    def wait_for_socket_client(self, timeout: float = 10.0) -> str:
        """Block until an app has connected over Socket Mode; returns the newest connection's id."""
        with self._socket_changed:
            if not self._socket_changed.wait_for(lambda: bool(self._socket_clients), timeout):
                raise AssertionError(f"no Socket Mode client connected within {timeout}s")
            return list(self._socket_clients)[-1]

    def send_socket_event(
        self, event: dict[str, Any], *, event_id: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Push one event as an ``events_api`` envelope to the connected app; return its ack.

        Uses the newest connection, like Slack picks one of an app's connections.
        Raises AssertionError when no client is connected or no ack arrives within ``timeout``.
        """
        body = event if event.get("type") == "event_callback" else self.envelope(event, event_id=event_id)
        envelope_id = str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": body,
        }
        socket_id = self.wait_for_socket_client(timeout)
        with self._lock:
            client = self._socket_clients.get(socket_id)
        if client is None:
            raise AssertionError("the Socket Mode client disconnected before the event was sent")
        future = asyncio.run_coroutine_threadsafe(client.ws.send_json(message), client.loop)
        future.result(timeout)

        def acked() -> dict[str, Any] | None:
            return next((a for a in self._socket_acks if a.get("envelope_id") == envelope_id), None)

        with self._socket_changed:
            if not self._socket_changed.wait_for(lambda: acked() is not None, timeout):
                raise AssertionError(f"no ack for Socket Mode envelope {envelope_id} within {timeout}s")
            ack = acked()
        assert ack is not None
        return ack

    # ----------------------------------------------------------------- Web API methods

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain,
            "user": "coachbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        text = str(args.get("text") or args.get("markdown_text") or "")
        blocks = _json_list(args.get("blocks"))
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        _check_message_length(text)
        message = self._new_bot_message(channel, _thread_ts(args), text, blocks=blocks)
        return {"channel": channel, "ts": message.ts, "message": self._slack_message(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find(args)
        blocks = _json_list(args.get("blocks"))
        text = args.get("text", args.get("markdown_text"))
        if text is not None:
            _check_message_length(str(text))
        with self._lock:
            if text is not None:
                message.text = str(text)
            if blocks is not None:
                message.blocks = blocks
            message.updates += 1
        return {
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": self._slack_message(message),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find(args)
        with self._lock:
            self._store.remove(message)
        return {"channel": message.channel, "ts": message.ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        _require_channel(args)
        if not args.get("user"):
            raise SlackError("user_not_in_channel")
        text = str(args.get("text") or "")
        if not text and not _json_list(args.get("blocks")):
            raise SlackError("no_text")
        _check_message_length(text)
        return {"message_ts": self.ts()}

    def _chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        thread_ts = _thread_ts(args)
        if thread_ts is None:
            raise SlackError("invalid_arguments", detail="thread_ts is required")
        text = _stream_text(args)
        message = self._new_bot_message(channel, thread_ts, text, streaming=True)
        return {"channel": channel, "ts": message.ts}

    def _chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        self._append(message, _stream_text(args))
        return {"channel": message.channel, "ts": message.ts}

    def _chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        blocks = _json_list(args.get("blocks"))
        self._append(message, _stream_text(args), finish=True, blocks=blocks)
        return {"channel": message.channel, "ts": message.ts, "message": self._slack_message(message)}

    def _streaming_message(self, args: dict[str, Any]) -> Message:
        message = self._find(args)
        if not message.streaming:
            raise SlackError("message_not_in_streaming_state")
        return message

    def _append(
        self, message: Message, text: str, *, finish: bool = False, blocks: list[Any] | None = None
    ) -> None:
        with self._lock:
            if not message.streaming:  # lost a race with another stopStream
                raise SlackError("message_not_in_streaming_state")
            if len(message.text) + len(text) > MESSAGE_TEXT_LIMIT:
                raise SlackError("msg_too_long")
            message.text += text
            message.updates += 1
            if blocks is not None:
                message.blocks = blocks
            if finish:
                message.streaming = False

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user", ""))
        if user_id == self.bot_user_id:
            return {"user": self._user_json(user_id, {"name": "coachbot"}, is_bot=True)}
        profile = self.users.get(user_id)
        if profile is None:
            raise SlackError("user_not_found")
        return {"user": self._user_json(user_id, profile)}

    def _user_json(self, user_id: str, profile: dict[str, Any], *, is_bot: bool = False) -> dict[str, Any]:
        name = str(profile.get("name", user_id.lower()))
        base: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {"real_name": name.title(), "display_name": name},
        }
        base.update(profile)
        return base

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(args.get("channel", "")), str(args.get("ts", ""))
        with self._lock:
            root = self._store.get(channel, thread_ts)
            thread = list(self._store.by_thread.get((channel, thread_ts), ()))
            found = [m.to_slack() for m in sorted(([root] if root else []) + thread, key=_ts_key)]
        if not found:
            raise SlackError("thread_not_found")
        return {"messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        with self._lock:
            stored = self._store.by_channel.get(channel, {}).values()
            top = [m for m in stored if m.thread_ts is None or m.thread_ts == m.ts]
            found = [m.to_slack() for m in sorted(top, key=_ts_key, reverse=True)]
        return {
            "messages": found,
            "has_more": False,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _slack_message(self, message: Message) -> dict[str, Any]:
        with self._lock:
            out = message.to_slack()
        out.update({"app_id": self.app_id, "team": self.team_id})
        return out

    # ----------------------------------------------------------------- files

    def add_file(
        self,
        name: str,
        *,
        content: bytes | None = None,
        size: int | None = None,
        mimetype: str = "text/plain",
        filetype: str | None = None,
        user: str = "U0COACH",
        serve_login_page: bool = False,
        fail_download: bool | Literal["drop", "500"] = False,
    ) -> dict[str, Any]:
        """Share a file in the workspace and return its Slack file object.

        The bytes are ``content``, or ``size`` generated bytes (a deterministic pattern
        produced while serving, so a 1 GB file costs no memory; ``sha256_of`` gives their
        digest). They are served at ``url_private(_download)`` to the bot token only.
        ``serve_login_page`` answers Slack's HTML sign-in page instead (what Slack does when
        the app lacks ``files:read``); ``fail_download`` drops the connection half-way
        (True / "drop") or answers HTTP 500 ("500").
        """
        if content is None and size is None:
            raise ValueError("add_file needs content or size")
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(3).upper()}"
        total = len(content) if content is not None else int(size or 0)
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        kind = filetype or ext or "binary"
        created = int(time.time())
        path = f"{self.origin}/files-pri/{file_id}"
        info: dict[str, Any] = {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": kind,
            "pretty_type": kind.upper(),
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": total,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{path}/{quote(name)}",
            "url_private_download": f"{path}/download/{quote(name)}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{quote(name)}",
            "file_access": "visible",
        }
        with self._lock:
            self._files[file_id] = _File(
                info=info,
                content=content,
                size=total,
                serve_login_page=serve_login_page,
                fail_download=fail_download,
            )
        return dict(info)

    def sha256_of(self, file_id: str) -> str:
        """The hex SHA-256 of a file's full bytes, as served (hashes generated bytes as it goes)."""
        digest = hashlib.sha256()
        for piece in self._file(file_id).pieces():
            digest.update(piece)
        return digest.hexdigest()

    def file_bytes(self, file_id: str) -> bytes:
        """A (small) file's bytes, for assertions."""
        return b"".join(self._file(file_id).pieces())

    def set_file_download(self, file_id: str, *, fail_download: bool | Literal["drop", "500"]) -> None:
        """Change how a file's download behaves from now on (e.g. Slack recovers from an outage)."""
        found = self._file(file_id)
        with self._lock:
            found.fail_download = fail_download

    def file_downloads(self, file_id: str) -> int:
        """How many authorised download requests reached the file."""
        return self._file(file_id).downloads

    def _file(self, file_id: str) -> _File:
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            raise KeyError(file_id)
        return found

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = self._files.get(str(args.get("file", "")))
        if found is None:
            raise SlackError("file_not_found")
        return {"file": dict(found.info), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        """Like files.slack.com: the bot token as a bearer header, or a redirect to the sign-in page."""
        with self._lock:
            found = self._files.get(request.match_info["file_id"])
        if found is None:
            return web.Response(status=404, text="file not found")
        if request.headers.get("Authorization", "") != f"Bearer {self.bot_token}":
            raise web.HTTPFound(f"/signin?redir={quote(request.path)}")
        if found.serve_login_page:  # a token without files:read
            return web.Response(text=LOGIN_PAGE_HTML, content_type="text/html")
        with self._lock:
            found.downloads += 1
        if found.fail_download == "500":
            return web.Response(status=500, text="internal error")
        response = web.StreamResponse(
            headers={
                "Content-Type": found.info["mimetype"],
                "Content-Disposition": f'attachment; filename="{quote(found.info["name"])}"',
            }
        )
        response.content_length = found.size
        await response.prepare(request)
        drop_at = found.size // 2 if found.fail_download else None
        try:
            for piece in found.pieces(drop_at):
                await response.write(piece)
        except ConnectionError:  # the client stopped reading (e.g. the file was too large)
            return response
        if drop_at is not None:
            if request.transport is not None:
                request.transport.abort()  # the client sees a connection cut short of Content-Length
            return response
        await response.write_eof()
        return response

    async def _handle_login_page(self, request: web.Request) -> web.Response:
        return web.Response(text=LOGIN_PAGE_HTML, content_type="text/html")

    # files_upload_v2: files.getUploadURLExternal reserves an id and an upload URL, the client
    # POSTs the bytes there (recorded as method "upload.v1"), files.completeUploadExternal turns
    # it into a shared file and, given a channel, a bot message carrying it.

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("filename") or "")
        try:
            length = int(args.get("length", ""))
        except ValueError:
            length = -1
        if not name or length < 0:
            raise SlackError("invalid_arguments", detail="filename and length are required")
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(3).upper()}"
        with self._lock:
            self._uploads[file_id] = _Upload(name=name, length=length)
        return {"upload_url": f"{self.origin}/upload/v1/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """Like files.slack.com/upload/v1/…: the URL itself is the credential; answers "OK - <bytes>"."""
        file_id = request.match_info["file_id"]
        body = await request.read()
        args = {"file_id": file_id, "bytes": len(body)}
        self._record(RecordedCall("upload.v1", args, time.perf_counter(), time.time()))
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is not None:
                upload.content = body
        if upload is None:
            return web.Response(status=404, text="upload not found")
        return web.Response(text=f"OK - {len(body)}")

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = [e for e in _json_list(args.get("files")) or [] if isinstance(e, dict)]
        if not entries:
            raise SlackError("invalid_arguments", detail="files is required")
        channels = [c for c in str(args.get("channels") or args.get("channel_id") or "").split(",") if c]
        shared = []
        for entry in entries:
            with self._lock:
                upload = self._uploads.pop(str(entry.get("id", "")), None)
            if upload is None or upload.content is None:
                raise SlackError("file_not_found")
            file_id = str(entry["id"])
            info = self._uploaded_file_info(file_id, upload, str(entry.get("title") or upload.name), channels)
            with self._lock:
                self._files[file_id] = _File(info=info, content=upload.content, size=len(upload.content))
            shared.append(info)
        text = str(args.get("initial_comment") or "")
        _check_message_length(text)
        for channel in channels:
            self._new_bot_message(channel, _thread_ts(args), text, files=[dict(f) for f in shared])
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def _uploaded_file_info(
        self, file_id: str, upload: _Upload, title: str, channels: list[str]
    ) -> dict[str, Any]:
        created = int(time.time())
        mimetype = mimetypes.guess_type(upload.name)[0] or "application/octet-stream"
        kind = upload.name.rpartition(".")[2].lower() if "." in upload.name else "binary"
        path = f"{self.origin}/files-pri/{file_id}"
        return {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": upload.name,
            "title": title,
            "mimetype": mimetype,
            "filetype": kind,
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "size": len(upload.content or b""),
            "mode": "hosted",
            "is_external": False,
            "url_private": f"{path}/{quote(upload.name)}",
            "url_private_download": f"{path}/download/{quote(upload.name)}",
            "channels": list(channels),
        }

    # ----------------------------------------------------------------- acting as Slack towards the app

    def user_says(
        self,
        *,
        channel: str,
        text: str,
        user: str = "U0COACH",
        thread_ts: str | None = None,
        channel_type: str = "im",
        ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        subtype: str | None = None,
    ) -> dict[str, Any]:
        """Store a user's message and return its ``message`` event, for ``send_event``/``deliver``.

        With ``files`` (objects from ``add_file``) it is a ``file_share`` message, as Slack
        sends when a file is dropped into the conversation (``text`` may then be empty).
        """
        ts = ts or self.ts()
        with self._lock:
            self._store.add(Message(ts=ts, channel=channel, thread_ts=thread_ts, text=text, user=user))
        event = payloads.message_event(
            channel=channel,
            user=user,
            text=text,
            ts=ts,
            team_id=self.team_id,
            channel_type=channel_type,
            thread_ts=thread_ts,
        )
        if files:
            event["files"] = [dict(f) for f in files]
            event["upload"] = False
            event["display_as_bot"] = False
            if not text:
                event.pop("blocks", None)
        subtype = subtype or ("file_share" if files else None)
        if subtype:
            event["subtype"] = subtype
        return event

    def file_share(
        self,
        *,
        channel: str,
        files: list[dict[str, Any]],
        text: str = "",
        user: str = "U0COACH",
        thread_ts: str | None = None,
        channel_type: str = "im",
    ) -> dict[str, Any]:
        """The ``message``/``file_share`` event for files (from ``add_file``) dropped in a conversation."""
        return self.user_says(
            channel=channel, text=text, user=user, thread_ts=thread_ts, channel_type=channel_type, files=files
        )

    def mention(
        self, *, channel: str, text: str, user: str = "U0COACH", thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Store a message mentioning the bot and return its ``app_mention`` event."""
        ts = self.ts()
        event = payloads.app_mention_event(
            channel=channel,
            user=user,
            text=text,
            ts=ts,
            team_id=self.team_id,
            bot_user_id=self.bot_user_id,
            thread_ts=thread_ts,
        )
        with self._lock:
            self._store.add(
                Message(ts=ts, channel=channel, thread_ts=thread_ts, text=event["text"], user=user)
            )
        return event

    def assistant_thread_started(
        self, *, channel: str, thread_ts: str, user: str = "U0COACH"
    ) -> dict[str, Any]:
        """The event Slack sends when the user opens a new assistant thread."""
        return payloads.assistant_thread_started_event(
            channel=channel, thread_ts=thread_ts, user=user, team_id=self.team_id, event_ts=self.ts()
        )

    def envelope(
        self, event: dict[str, Any], *, event_id: str | None = None, team_id: str | None = None
    ) -> dict[str, Any]:
        """Wrap an event in the ``event_callback`` body Slack POSTs."""
        return payloads.event_callback(
            event,
            team_id=team_id or self.team_id,
            bot_user_id=self.bot_user_id,
            api_app_id=self.app_id,
            event_id=event_id,
        )

    def post_signed(
        self,
        url: str,
        body: bytes | str,
        content_type: str = "application/json",
        *,
        headers: dict[str, str] | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        timeout: float = 10,
    ) -> Delivery:
        """POST ``body`` signed like Slack (override ``secret``/``timestamp`` to send a bad/stale one).

        Synchronous (http.client): from a coroutine sharing a loop with the app,
        call it via ``asyncio.to_thread`` or the app cannot answer.
        """
        raw = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **sign(self.signing_secret if secret is None else secret, raw, timestamp),
            **(headers or {}),
        }
        return _http_post(url, raw, all_headers, timeout)

    def send_event(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timeout: float = 10,
    ) -> Delivery:
        """Deliver one event (or a ready ``event_callback`` body) once, signed."""
        body = event if event.get("type") == "event_callback" else self.envelope(event, event_id=event_id)
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self.post_signed(url, json.dumps(body).encode("utf-8"), headers=headers, timeout=timeout)

    def deliver(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        ack_timeout: float = 3.0,
        max_retries: int = 3,
    ) -> list[Delivery]:
        """Deliver like Slack: retry (same event_id, X-Slack-Retry-Num 1..n) until a 2xx arrives in time."""
        body = event if event.get("type") == "event_callback" else self.envelope(event, event_id=event_id)
        deliveries: list[Delivery] = []
        for attempt in range(max_retries + 1):
            retry_num = attempt or None
            reason = _retry_reason(deliveries[-1]) if deliveries else "http_timeout"
            delivery = self.send_event(
                url, body, retry_num=retry_num, retry_reason=reason, timeout=ack_timeout
            )
            deliveries.append(delivery)
            if delivery.ok:
                break
        return deliveries

    def command_payload(
        self,
        command: str = "/perf",
        text: str = "",
        *,
        user_id: str = "U0ADMIN",
        channel_id: str = "C0GENERAL",
    ) -> dict[str, str]:
        """The form fields of a slash command, with a response_url served by this emulator."""
        response_id = f"{next(self._response_ids)}-{secrets.token_hex(4)}"
        return payloads.slash_command(
            command=command,
            text=text,
            user_id=user_id,
            user_name=str(self.users.get(user_id, {}).get("name", user_id.lower())),
            channel_id=channel_id,
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            response_url=f"{self.origin}/response_url/{response_id}",
        )

    def send_command(
        self,
        url: str,
        command: str = "/perf",
        text: str = "",
        *,
        user_id: str = "U0ADMIN",
        channel_id: str = "C0GENERAL",
        timeout: float = 10,
    ) -> Delivery:
        """POST a signed, form-encoded slash command like Slack does."""
        form = self.command_payload(command, text, user_id=user_id, channel_id=channel_id)
        return self.post_signed(
            url, urlencode(form).encode("ascii"), "application/x-www-form-urlencoded", timeout=timeout
        )


# --------------------------------------------------------------------- helpers


@dataclass
class _SocketClient:
    """One open Socket Mode WebSocket, with the loop its sends must run on."""

    socket_id: str
    ws: web.WebSocketResponse
    loop: asyncio.AbstractEventLoop


def _just_ok(args: dict[str, Any]) -> dict[str, Any]:
    return {}


def _ts_key(message: Message) -> tuple[int, int]:
    seconds, _, micros = message.ts.partition(".")
    return int(seconds), int(micros or 0)


def _enough(replies: list[Message], count: int, complete: bool) -> bool:
    if len(replies) < count:
        return False
    return not complete or all(not m.streaming for m in replies)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string and JSON or form body, and take the token out (header wins)."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update({key: _form_value(value) for key, value in form.items()})
    token = args.pop("token", None)
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = auth[len("Bearer ") :].strip()
    return args, token


def _form_value(value: Any) -> Any:
    if isinstance(value, web.FileField):
        return {"filename": value.filename, "content_type": value.content_type, "size": _file_size(value)}
    return value


def _file_size(value: web.FileField) -> int:
    value.file.seek(0, 2)
    size = value.file.tell()
    value.file.seek(0)
    return size


def _json_list(value: Any) -> list[Any] | None:
    """``blocks``/``chunks`` arrive as a list (JSON body) or a JSON string (form body)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise SlackError("invalid_arguments", detail="not valid JSON") from exc
    if not isinstance(value, list):
        raise SlackError("invalid_arguments", detail="expected an array")
    return value


def _require_channel(args: dict[str, Any]) -> str:
    channel = str(args.get("channel") or "")
    if not channel:
        raise SlackError("channel_not_found")
    return channel


def _thread_ts(args: dict[str, Any]) -> str | None:
    value = args.get("thread_ts")
    return str(value) if value else None


def _stream_text(args: dict[str, Any]) -> str:
    """The markdown a chat.*Stream call adds: ``markdown_text`` plus any markdown_text chunks."""
    parts = [str(args["markdown_text"])] if args.get("markdown_text") else []
    for chunk in _json_list(args.get("chunks")) or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            parts.append(str(chunk.get("text", "")))
    text = "".join(parts)
    if len(text) > MARKDOWN_TEXT_LIMIT:
        raise SlackError("msg_too_long")
    return text


def _check_message_length(text: str) -> None:
    if len(text) > MESSAGE_TEXT_LIMIT:
        raise SlackError("msg_too_long")


def _retry_reason(previous: Delivery) -> str:
    return previous.error or "http_error"


def _http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    """One blocking POST; a missing answer becomes status 0 with Slack's retry reason in ``error``."""
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        resp_headers = {k.lower(): v for k, v in response.getheaders()}
        return Delivery(response.status, data, resp_headers, _ms_since(started))
    except TimeoutError:
        return Delivery(0, b"", {}, _ms_since(started), error="http_timeout")
    except (OSError, http.client.HTTPException):
        return Delivery(0, b"", {}, _ms_since(started), error="connection_failed")
    finally:
        conn.close()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


# --------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the devkit Slack emulator until SIGTERM/SIGINT.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bot-token", default="xoxb-devkit")
    parser.add_argument("--app-token", default="xapp-devkit")
    parser.add_argument("--signing-secret", default="devkit-signing-secret")
    parser.add_argument("--team-id", default="T0DEVKIT")
    parser.add_argument("--bot-user-id", default="U0BOT")
    parser.add_argument("--bot-id", default="B0BOT")
    opts = parser.parse_args(argv)
    emulator = SlackEmulator(
        bot_token=opts.bot_token,
        app_token=opts.app_token,
        signing_secret=opts.signing_secret,
        team_id=opts.team_id,
        bot_user_id=opts.bot_user_id,
        bot_id=opts.bot_id,
        host=opts.host,
        port=opts.port,
    )
    serve_until_signalled(lambda: emulator.start().base_url, emulator.stop)


if __name__ == "__main__":
    main()
