"""A local OpenAI Chat Completions endpoint with controllable latency and faults.

Real HTTP on 127.0.0.1 so the app's ``openai.AsyncOpenAI(base_url=fake.base_url)``
runs unmodified, including its SSE parsing, retries and timeouts. Replies are
deterministic and reveal how much history the app sent, so tests can check the
conversation context without inspecting the prompt.

It is as strict as OpenAI's documentation per model (``devkit.openai_rules``: reasoning
models' parameters, context windows, output limits; ``fake.rules`` switches each off), and
``stream_mode = "varied"`` sends every form of server-sent event the spec allows
(``devkit.openai_stream``). ``cut_next`` ends replies with ``length`` or ``content_filter``.
A ``response_format`` is checked as OpenAI documents it, and a ``json_schema`` request is
answered with a valid instance (``queue_json`` scripts the next one; ``devkit.openai_schema``).

Run standalone with ``python -m devkit.fake_openai --port 0 --ttft 0.4 --tps 60``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from devkit._server import BackgroundServer, serve_until_signalled
from devkit.openai_bodies import content_problem, count_user_messages, image_urls, last_user_text
from devkit.openai_rules import ModelRules, RequestRefused, count_prompt_tokens, is_reasoning_model
from devkit.openai_schema import instance_of, instance_problem, json_schema_of
from devkit.openai_stream import COMPACT, STREAM_MODES, Completion, serve_plan, split_tokens

__all__ = ["FakeOpenAI", "ModelRules", "RecordedRequest", "image_urls", "last_user_text", "split_tokens"]

ReplyFn = Callable[[dict[str, Any]], str]

_CLIENT_GONE = 499  # recorded status when the client hung up first (nginx's convention)

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (devkit)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    408: ("server_error", None, "Request timed out."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (devkit)."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", "service_unavailable", "The engine is currently overloaded."),
}


@dataclass
class RecordedRequest:
    """One request to /v1/chat/completions and how it was served (times are perf_counter)."""

    body: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    received_at: float
    first_token_at: float | None = None  # when the first content was written
    finished_at: float | None = None
    status: int = 200
    reply: str | None = None  # the full text served (before any max_tokens cut)
    disconnected: bool = False  # the client went away before the response was complete

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.received_at


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    body: Any
    remaining: int


@dataclass
class _Stall:
    seconds: float
    remaining: int


@dataclass
class _Cut:
    finish_reason: str
    after_tokens: int
    remaining: int


class FakeOpenAI:
    """OpenAI Chat Completions on 127.0.0.1. ``ttft`` and ``tokens_per_second`` may be changed at runtime."""

    def __init__(
        self,
        *,
        ttft: float = 0.0,
        tokens_per_second: float = 0.0,
        reply: ReplyFn | None = None,
        api_key: str = "sk-devkit",
        host: str = "127.0.0.1",
        port: int = 0,
        rules: ModelRules | None = None,
        stream_mode: str = COMPACT,
    ):
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.reply = reply
        self.api_key = api_key
        #: Per-model strictness; e.g. ``fake.rules.context_windows = False``, or
        #: ``fake.rules.windows["my-8k-model"] = (8192, 4096)``.
        self.rules = rules or ModelRules()
        if stream_mode not in STREAM_MODES:
            raise ValueError(f"stream_mode must be one of {STREAM_MODES}")
        #: "compact" (OpenAI's usual one line per event) or "varied" (every form the SSE spec allows).
        self.stream_mode = stream_mode
        #: Tokens a reasoning model (o1/o3/o4/gpt-5) spends thinking, out of its reply limit.
        self.reasoning_tokens = 0
        self._server = BackgroundServer(self._make_app, host=host, port=port)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[str] = deque()
        self._scripted_json: deque[Any] = deque()
        self._faults: deque[_Fault] = deque()
        self._stalls: deque[_Stall] = deque()
        self._cuts: deque[_Cut] = deque()
        self._served = 0
        self._ids = itertools.count(1)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeOpenAI:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """What ``openai.AsyncOpenAI(base_url=...)`` takes."""
        return f"{self._server.origin}/v1"

    # ----------------------------------------------------------------- scripting and faults

    def queue_reply(self, text: str) -> None:
        """Serve ``text`` as the next reply (FIFO), ahead of ``reply``/the default."""
        with self._lock:
            self._scripted.append(text)

    def queue_json(self, value: Any) -> None:
        """Answer the next ``json_schema`` request with ``value`` (FIFO); it must fit that request's
        schema, or the request fails with a 500 naming why (a test's script is wrong, not the app)."""
        with self._lock:
            self._scripted_json.append(value)

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: float | None = None, body: Any = None
    ) -> None:
        """Answer the next ``times`` completions with ``status`` and an OpenAI-shaped error."""
        with self._lock:
            self._faults.append(_Fault(status, retry_after, body, times))

    def stall_next(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` completions ``seconds`` before any header, to trip client timeouts."""
        with self._lock:
            self._stalls.append(_Stall(seconds, times))

    def cut_next(self, finish_reason: str, *, after_tokens: int = 3, times: int = 1) -> None:
        """End the next ``times`` replies after ``after_tokens`` with ``finish_reason`` (``length``,
        ``content_filter``), as a model does that hits its limit or is filtered; ``"error"`` ends
        the stream there with OpenAI's error event instead (a streamed reply only)."""
        with self._lock:
            self._cuts.append(_Cut(finish_reason, after_tokens, times))

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._stalls.clear()
            self._cuts.clear()

    # ----------------------------------------------------------------- records

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def served(self) -> int:
        """Completions that got a reply (the ``n`` of the default reply)."""
        with self._lock:
            return self._served

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _take(self, queue: deque[Any]) -> Any:
        with self._lock:
            if not queue:
                return None
            item = queue[0]
            item.remaining -= 1
            if item.remaining <= 0:
                queue.popleft()
            return item

    def _next_reply(self, body: dict[str, Any]) -> str:
        with self._lock:
            self._served += 1
            n = self._served
            scripted = self._scripted.popleft() if self._scripted else None
        if scripted is not None:
            return scripted
        if self.reply is not None:
            return self.reply(body)
        return (
            f"Reply {n}: you have told me {count_user_messages(body)} things so far. "
            f"Last you said: {last_user_text(body)[:60]}"
        )

    def _next_json(self, spec: dict[str, Any]) -> str:
        """The next scripted instance (checked against the schema), or one built from it."""
        with self._lock:
            self._served += 1
            scripted = self._scripted_json.popleft() if self._scripted_json else None
        schema = spec["schema"]
        if scripted is None:
            return json.dumps(instance_of(schema))
        problem = instance_problem(scripted, schema)
        if problem is not None:
            raise ValueError(f"the scripted JSON does not fit schema {spec.get('name')!r}: {problem}")
        return json.dumps(scripted)

    # ----------------------------------------------------------------- HTTP

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle_completions)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_get("/_devkit/requests", self._handle_devkit_requests)
        app.router.add_post("/_devkit/config", self._handle_devkit_config)
        app.router.add_post("/_devkit/reset", self._handle_devkit_reset)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    async def _handle_completions(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        record = RecordedRequest(body={}, headers=headers, received_at=time.perf_counter())
        with self._lock:
            self._requests.append(record)
        try:
            return await self._serve_completion(request, record)
        finally:
            record.finished_at = time.perf_counter()

    async def _serve_completion(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(record, 401)
        try:
            record.body = await request.json()
        except ValueError:
            return _error(record, 400, message="We could not parse the JSON body of your request.")
        stall = self._take(self._stalls)
        if stall is not None and not await _stall(request, stall.seconds):
            record.disconnected = True
            return _error(record, _CLIENT_GONE)
        fault = self._take(self._faults)
        if fault is not None:
            return _error(record, fault.status, retry_after=fault.retry_after, body=fault.body)
        if not isinstance(record.body, dict) or not isinstance(record.body.get("messages"), list):
            return _error(record, 400, message="'messages' is a required property")
        problem = content_problem(record.body)  # list content (text + image parts) is recorded as sent
        if problem is not None:
            return _error(record, 400, message=problem)
        prompt_tokens = count_prompt_tokens(record.body)
        try:
            limit = self.rules.check(record.body, prompt_tokens)
        except RequestRefused as refused:
            return _error(record, 400, body=refused.body)
        try:
            structured = json_schema_of(record.body)
        except RequestRefused as refused:
            return _error(record, 400, body=refused.body)
        try:
            if structured is not None:
                record.reply = self._next_json(structured)
            else:
                record.reply = self._next_reply(record.body)
        except Exception as exc:  # a test's reply function failed: surface it as a 500
            return _error(record, 500, message=f"devkit reply function raised {exc!r}")
        cut = self._take(self._cuts)
        reasoning = is_reasoning_model(str(record.body.get("model") or ""))
        served = serve_plan(
            record.reply,
            limit=limit,
            prompt_tokens=prompt_tokens,
            reasoning_tokens=self.reasoning_tokens if reasoning else 0,
            cut=(cut.finish_reason, cut.after_tokens) if cut is not None else None,
        )
        completion = Completion(
            record,
            served,
            completion_id=f"chatcmpl-devkit{next(self._ids):06d}",
            ttft=self.ttft,
            tokens_per_second=self.tokens_per_second,
            stream_mode=self.stream_mode,
        )
        if record.body.get("stream"):
            return await completion.stream(request)
        return await completion.whole()

    async def _handle_models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response(_error_json(401), status=401)
        created = int(time.time())
        models = [
            {"id": name, "object": "model", "created": created, "owned_by": "devkit"}
            for name in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini", "gpt-5", "gpt-5-mini")
        ]
        return web.json_response({"object": "list", "data": models})

    async def _handle_devkit_requests(self, request: web.Request) -> web.Response:
        return web.json_response([dataclasses.asdict(r) for r in self.requests], dumps=_dumps)

    async def _handle_devkit_config(self, request: web.Request) -> web.Response:
        config = await request.json()
        if "ttft" in config:
            self.ttft = float(config["ttft"])
        if "tokens_per_second" in config:
            self.tokens_per_second = float(config["tokens_per_second"])
        if config.get("stream_mode") in STREAM_MODES:
            self.stream_mode = config["stream_mode"]
        return web.json_response(
            {"ttft": self.ttft, "tokens_per_second": self.tokens_per_second, "stream_mode": self.stream_mode}
        )

    async def _handle_devkit_reset(self, request: web.Request) -> web.Response:
        self.reset_faults()
        self.clear_requests()
        return web.json_response({"ok": True})


# --------------------------------------------------------------------- helpers


def _error_json(status: int, message: str | None = None) -> dict[str, Any]:
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    err_type, code, default_message = _ERRORS.get(
        status, (default_type, None, f"devkit injected HTTP {status}")
    )
    return {"error": {"message": message or default_message, "type": err_type, "param": None, "code": code}}


def _error(
    record: RecordedRequest,
    status: int,
    *,
    message: str | None = None,
    retry_after: float | None = None,
    body: Any = None,
) -> web.Response:
    record.status = status
    headers = {"retry-after": _format_seconds(retry_after)} if retry_after is not None else {}
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers)
    return web.json_response(
        body if body is not None else _error_json(status, message), status=status, headers=headers
    )


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


async def _stall(request: web.Request, seconds: float) -> bool:
    """Wait ``seconds``; False as soon as the client hangs up (so a stall never outlives its test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        await asyncio.sleep(min(0.05, remaining))
        if request.transport is None or request.transport.is_closing():
            return False
    return True


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


# --------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the devkit fake OpenAI until SIGTERM/SIGINT.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument("--tps", type=float, default=0.0, help="tokens per second (0 = unpaced)")
    parser.add_argument("--api-key", default="sk-devkit")
    parser.add_argument("--stream-mode", choices=STREAM_MODES, default=COMPACT)
    opts = parser.parse_args(argv)
    fake = FakeOpenAI(
        ttft=opts.ttft, tokens_per_second=opts.tps, api_key=opts.api_key, host=opts.host, port=opts.port
    )
    fake.stream_mode = opts.stream_mode
    serve_until_signalled(lambda: fake.start().base_url, fake.stop)


if __name__ == "__main__":
    main()
