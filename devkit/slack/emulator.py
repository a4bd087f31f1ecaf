"""A local Slack: the Web API the app calls, plus the Events API side that calls the app.

Real HTTP on 127.0.0.1 so the app's own slack_sdk/slack_bolt code runs unmodified:
point ``WebClient(base_url=emulator.base_url)`` at it, and have the emulator
deliver signed events to the app's request URL. Every Web API call is recorded so
tests (and, over ``GET /_devkit/calls``, the benchmark) can assert on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from devkit import payloads
from devkit._server import BackgroundServer
from devkit.slack.arguments import read_args
from devkit.slack.assistant import AssistantMixin
from devkit.slack.chat import ChatMixin
from devkit.slack.faults import FaultsMixin
from devkit.slack.feed import Feed
from devkit.slack.files import FilesMixin
from devkit.slack.interactivity import InteractivityMixin
from devkit.slack.manifest import REPOSITORY_MANIFEST, read_manifest
from devkit.slack.oauth import OAuthMixin
from devkit.slack.rate_limits import RateLimited, RateLimiter
from devkit.slack.records import Handler, RecordedCall, ResponseUrlPost, SlackError
from devkit.slack.rules import EmulatorRules
from devkit.slack.scopes import check_scopes
from devkit.slack.socket_mode import SocketModeMixin
from devkit.slack.workspace import WorkspaceMixin


class SlackEmulator(
    ChatMixin,
    AssistantMixin,
    WorkspaceMixin,
    FilesMixin,
    FaultsMixin,
    SocketModeMixin,
    InteractivityMixin,
    OAuthMixin,
):
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
        rules: EmulatorRules | None = None,
        clock: Callable[[], float] = time.monotonic,
        scopes: Sequence[str] | None = None,
        agent_view: bool | None = None,
        manifest: Path = REPOSITORY_MANIFEST,
    ):
        """``rules`` says which documented rules to enforce (all by default); ``clock`` is the
        monotonic time rate limits and stream expiry run on (a test's FakeClock, or real time).
        The bot token's ``scopes`` and ``agent_view`` come from ``manifest`` unless given; with
        no manifest file every scope is granted."""
        app = read_manifest(manifest)
        self.scopes: list[str] | None = list(scopes) if scopes is not None else (app and list(app.bot_scopes))
        self._setup_core(
            bot_token=bot_token,
            app_token=app_token,
            team_id=team_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            signing_secret=signing_secret,
            users=users,
            app_id=app_id,
            team_domain=team_domain,
            rules=rules or EmulatorRules(),
            clock=clock,
        )
        self._setup_faults()
        self._setup_oauth()
        self._setup_files()
        self._setup_sender()
        self._setup_interactivity()
        self._setup_socket_mode()
        self._setup_streams()
        self._setup_views()
        self.home_tab_enabled = bool(app and app.home_tab)
        self.feed: Feed | None = None  # what a browser page follows; off until open_feed()
        self._setup_assistant(
            agent_view=agent_view if agent_view is not None else bool(app and app.agent_view)
        )
        self._limiter = RateLimiter(
            clock, limits=dict(self.rules.method_limits), per_channel=dict(self.rules.channel_limits)
        )
        self._server = BackgroundServer(self._make_app, host=host, port=port)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": self._set_status,
            "assistant.threads.setTitle": self._set_title,
            "assistant.threads.setSuggestedPrompts": self._set_suggested_prompts,
            "reactions.add": _just_ok,  # recorded calls are what tests check
            "reactions.remove": _just_ok,
            "users.info": self._users_info,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
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

    def implemented_methods(self) -> list[str]:
        """The Web API methods this emulator answers (apps.connections.open included)."""
        return sorted([*self._handlers, "apps.connections.open", "oauth.v2.access"])

    def open_feed(self) -> Feed:
        """Start keeping a feed of every answered call (for ``devkit.slack.page``); idempotent."""
        if self.feed is None:
            self.feed = Feed()
        return self.feed

    def register(self, method: str, handler: Handler) -> None:
        """Answer ``method`` with ``handler(args) -> dict`` (may be async; raise SlackError for ok:false)."""
        self._handlers[method] = handler

    # ----------------------------------------------------------------- rate limits

    def rate_limited(self) -> dict[str, int]:
        """How many calls of each method the rate limits answered with 429 (injected faults excluded)."""
        return self._limiter.refused_counts()

    def reset_rate_limits(self) -> None:
        """Refill every budget and zero the 429 counters, as after a quiet minute."""
        self._limiter.reset()

    def _spend(self, method: str, args: dict[str, Any]) -> None:
        if self.rules.rate_limits:
            channel = args.get("channel") or args.get("channel_id")
            self._limiter.check(self.calling_team, method, str(channel) if channel else None)

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
        app.router.add_get("/_devkit/rate_limits", self._handle_devkit_rate_limits)
        app.router.add_get("/_devkit/streams", self._handle_devkit_streams)
        app.router.add_get("/_devkit/home_view", self._handle_devkit_home_view)
        app.router.add_get("/files-pri/{file_id}/{rest:.+}", self._handle_file_download)
        app.router.add_get("/signin", self._handle_login_page)
        app.router.add_get("/oauth/v2/authorize", self._handle_authorize)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        return app

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at, wall = time.perf_counter(), time.time()
        try:
            args, token = await read_args(request)
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
        if method == "oauth.v2.access":  # no token: the app's client id and secret
            status, body, headers = self._answer_oauth(args, request.headers.get("Authorization", ""))
        else:
            status, body, headers = await self._answer(method, args, token)
        call.token = token
        call.status, call.error = status, body.get("error")
        if self.feed is not None:
            self.feed.publish("call", method=method, args=args, status=status, response=body)
        return web.json_response(body, status=status, headers=headers)

    async def _answer(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":  # the one method that takes the app-level token
            if token != self.app_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
        else:
            problem = self.token_problem(token)
            if problem is not None:
                return 200, {"ok": False, "error": problem}, {}
            team = self.team_of(token)
            if team is None:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            self._answering_for(team)
        try:
            self._spend(method, args)
        except RateLimited as exc:
            return 429, {"ok": False, "error": exc.error}, {"Retry-After": str(exc.retry_after)}
        if method == "apps.connections.open":
            return 200, {"ok": True, "url": self._new_socket_url()}, {}
        status, body, headers = await self._answer_bot(method, args)
        if self.scopes is not None:
            headers["x-oauth-scopes"] = ",".join(self.scopes)
        return status, body, headers

    async def _answer_bot(
        self, method: str, args: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.rules.scopes and self.scopes is not None:
            try:
                check_scopes(method, args, self.scopes)
            except SlackError as exc:
                return 200, {"ok": False, "error": exc.error, **exc.extra}, {}
        fault = self._take_fault(method)
        if fault is not None and fault.error == "message_not_in_streaming_state":
            self.end_stream(str(args.get("channel", "")), str(args.get("ts", "")))  # as Slack would have
        if fault is not None:
            headers = {}
            if fault.status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return fault.status, {"ok": False, "error": fault.error}, headers
        channel = args.get("channel") or args.get("channel_id")
        if channel and not self.channel_visible(str(channel)):  # another workspace's channel
            return 200, {"ok": False, "error": "channel_not_found"}, {}
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

    def _answer_oauth(
        self, args: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.rules.rate_limits:
            try:
                self._limiter.check("oauth", "oauth.v2.access", None)
            except RateLimited as exc:
                return 429, {"ok": False, "error": exc.error}, {"Retry-After": str(exc.retry_after)}
        try:
            return 200, {"ok": True, **self._oauth_v2_access(args, authorization)}, {}
        except SlackError as exc:
            return 200, {"ok": False, "error": exc.error}, {}

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        post = ResponseUrlPost(request.match_info["response_id"], body, time.perf_counter(), time.time())
        with self._lock:
            self._response_posts.append(post)
        if self.feed is not None:
            self.feed.publish("response_url", response_id=post.response_id, body=body)
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
        self.reset_rate_limits()
        return web.json_response({"ok": True})

    async def _handle_devkit_streams(self, request: web.Request) -> web.Response:
        """The streams the app started and never stopped (``open_streams()``), as message dicts."""
        return web.json_response([dataclasses.asdict(m) for m in self.open_streams()], dumps=_dumps)

    async def _handle_devkit_home_view(self, request: web.Request) -> web.Response:
        """``?user=U…``: the Home view last published for them (with its ``hash``), or null: what
        the bench puts in its ``app_home_opened``, as Slack does."""
        return web.json_response(self.home_view(request.query.get("user", "")), dumps=_dumps)

    async def _handle_devkit_rate_limits(self, request: web.Request) -> web.Response:
        """``{"enabled": bool, "rate_limited": {method: 429s answered}}`` for the bench."""
        return web.json_response({"enabled": self.rules.rate_limits, "rate_limited": self.rate_limited()})


def _just_ok(args: dict[str, Any]) -> dict[str, Any]:
    return {}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)
