"""A local OpenAI Chat Completions endpoint with controllable latency and faults.

Real HTTP on 127.0.0.1 so the app's ``openai.AsyncOpenAI(base_url=fake.base_url)``
runs unmodified, including its SSE parsing, retries and timeouts. Replies are
deterministic and reveal how much history the app sent, so tests can check the
conversation context without inspecting the prompt.

Run standalone with ``python -m devkit.fake_openai --port 0 --ttft 0.4 --tps 60``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from devkit._server import BackgroundServer, serve_until_signalled

ReplyFn = Callable[[dict[str, Any]], str]

# Leading whitespace plus up to 4 non-space characters: about 4 characters a token,
# and "".join(pieces) gives back the exact text.
_TOKEN_RE = re.compile(r"\s*\S{1,4}|\s+")

_CONTENT_SUFFIX = '}, "logprobs": null, "finish_reason": null}]}\n\n'
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


def split_tokens(text: str) -> list[str]:
    """Split into ~4-character pieces whose concatenation is exactly ``text``."""
    return _TOKEN_RE.findall(text)


def count_user_messages(body: dict[str, Any]) -> int:
    return sum(1 for m in _messages(body) if m.get("role") == "user")


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(_messages(body)):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(_content_text(m.get("content"))) for m in _messages(body)) // 4


def image_urls(body: dict[str, Any]) -> list[str]:
    """The ``image_url`` parts of every message, in order (``data:`` URLs included whole)."""
    urls = []
    for message in _messages(body):
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "image_url":
                urls.append(str((part.get("image_url") or {}).get("url", "")))
    return urls


def content_problem(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse about the messages' content parts (text / image_url), or None."""
    for message in _messages(body):
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            return "content must be a string or an array of content parts"
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if isinstance(url, str) and url.startswith(("data:image/", "https://", "http://")):
                    continue
                return "image_url parts need an image_url.url (a data:image/… or http(s) URL)"
            return f"unsupported content part {kind!r}"
    return None


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
    ):
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.reply = reply
        self.api_key = api_key
        self._server = BackgroundServer(self._make_app, host=host, port=port)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[str] = deque()
        self._faults: deque[_Fault] = deque()
        self._stalls: deque[_Stall] = deque()
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

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._stalls.clear()

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
        try:
            record.reply = self._next_reply(record.body)
        except Exception as exc:  # a test's reply function failed: surface it as a 500
            return _error(record, 500, message=f"devkit reply function raised {exc!r}")
        completion = _Completion(
            record, f"chatcmpl-devkit{next(self._ids):06d}", self.ttft, self.tokens_per_second
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
            for name in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")
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
        return web.json_response({"ttft": self.ttft, "tokens_per_second": self.tokens_per_second})

    async def _handle_devkit_reset(self, request: web.Request) -> web.Response:
        self.reset_faults()
        self.clear_requests()
        return web.json_response({"ok": True})


class _Completion:
    """Serves one reply, streamed as SSE or whole, paced on an absolute schedule."""

    def __init__(self, record: RecordedRequest, completion_id: str, ttft: float, tokens_per_second: float):
        body = record.body
        self.record = record
        self.id = completion_id
        self.model = str(body.get("model") or "gpt-4o-mini")
        self.created = int(time.time())
        self.ttft = max(0.0, ttft)
        self.interval = 1.0 / tokens_per_second if tokens_per_second > 0 else 0.0
        tokens = split_tokens(record.reply or "")
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        self.finish_reason = "stop"
        if isinstance(limit, int) and 0 < limit < len(tokens):
            tokens, self.finish_reason = tokens[:limit], "length"
        self.tokens = tokens
        self.usage = _usage(estimate_prompt_tokens(body), len(tokens))
        envelope_head = json.dumps(self._envelope())[:-1]  # without the closing brace
        self._content_prefix = f'data: {envelope_head}, "choices": [{{"index": 0, "delta": {{"content": '

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            await self._write_events(response)
            await response.write_eof()
        except ConnectionResetError:
            self.record.disconnected = True
        return response

    async def _write_events(self, response: web.StreamResponse) -> None:
        """Write each token when due; tokens already overdue (a loaded loop) share one write."""
        loop = asyncio.get_running_loop()
        start = loop.time() + self.ttft
        await _sleep_until(loop, start)
        pending = [self._event({"role": "assistant", "content": "", "refusal": None})]
        sent = 0
        while sent < len(self.tokens):
            if sent and self.interval:
                await _sleep_until(loop, start + sent * self.interval)
            due = self._due(loop.time() - start, sent)
            pending.extend(self._content_event(piece) for piece in self.tokens[sent:due])
            await response.write(b"".join(pending))
            pending.clear()
            if sent == 0:
                self.record.first_token_at = time.perf_counter()
            sent = due
        pending.append(self._event({}, finish_reason=self.finish_reason))
        options = self.record.body.get("stream_options") or {}
        if isinstance(options, dict) and options.get("include_usage"):
            pending.append(self._sse({**self._envelope(), "choices": [], "usage": self.usage}))
        pending.append(b"data: [DONE]\n\n")
        await response.write(b"".join(pending))

    def _due(self, elapsed: float, sent: int) -> int:
        """How many tokens should be out after ``elapsed`` seconds of content (at least one more)."""
        if not self.interval:
            return len(self.tokens)
        return min(len(self.tokens), max(sent + 1, int(elapsed / self.interval) + 1))

    async def whole(self) -> web.Response:
        loop = asyncio.get_running_loop()
        last_token = max(0, len(self.tokens) - 1) * self.interval
        await _sleep_until(loop, loop.time() + self.ttft + last_token)
        self.record.first_token_at = time.perf_counter()
        message = {"role": "assistant", "content": "".join(self.tokens), "refusal": None, "annotations": []}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
        body = {**self._envelope(), "object": "chat.completion", "choices": [choice], "usage": self.usage}
        return web.json_response(body)

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_devkit",
        }

    def _event(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._sse({**self._envelope(), "choices": [choice]})

    def _content_event(self, piece: str) -> bytes:
        # Hot path under load: splice the piece into a prebuilt template instead of dumping a dict.
        return f"{self._content_prefix}{json.dumps(piece)}{_CONTENT_SUFFIX}".encode()

    @staticmethod
    def _sse(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()


# --------------------------------------------------------------------- helpers


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _content_text(content: Any) -> str:
    """Message content is a string or a list of parts; only text parts count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


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


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


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
    opts = parser.parse_args(argv)
    fake = FakeOpenAI(
        ttft=opts.ttft, tokens_per_second=opts.tps, api_key=opts.api_key, host=opts.host, port=opts.port
    )
    serve_until_signalled(lambda: fake.start().base_url, fake.stop)


if __name__ == "__main__":
    main()
