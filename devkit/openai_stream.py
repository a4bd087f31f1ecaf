"""How the devkit fake writes one completion: streamed as server-sent events, or whole.

Two stream modes. ``compact`` is what OpenAI sends today (one ``data:`` line per chunk, no other
field) and is built from a template, as it is the hot path under load. ``varied`` sends every
form the SSE spec and OpenAI's chunk schema allow, for clients that must decode them all: each
chunk's JSON split over several ``data:`` lines (joined with "\\n" by a conforming decoder),
a leading byte-order mark, comments, ``event:``, ``id:`` and ``retry:`` fields (also in blocks
without data, which dispatch nothing), CR, LF and CRLF line ends, and ``"error": null``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

#: The finish reason ``cut_next`` takes for "the stream fails with an error event mid-reply".
STREAM_ERROR = "error"
#: OpenAI's error event when a stream fails after it began (then the connection ends).
_STREAM_ERROR_EVENT = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}

COMPACT = "compact"
VARIED = "varied"
STREAM_MODES = (COMPACT, VARIED)

# Leading whitespace plus up to 4 non-space characters: about 4 characters a token,
# and "".join(pieces) gives back the exact text.
_TOKEN_RE = re.compile(r"\s*\S{1,4}|\s+")


def split_tokens(text: str) -> list[str]:
    """Split into ~4-character pieces whose concatenation is exactly ``text``."""
    return _TOKEN_RE.findall(text)


@dataclass
class Served:
    """What one completion serves: its text pieces, why it ends, and its usage."""

    tokens: list[str]
    finish_reason: str
    usage: dict[str, Any]


def serve_plan(
    reply: str,
    *,
    limit: int | None,
    prompt_tokens: int,
    reasoning_tokens: int = 0,
    cut: tuple[str, int] | None = None,
) -> Served:
    """Cut ``reply`` at the token limit (reasoning tokens spend it first) or a scripted cut."""
    tokens = split_tokens(reply)
    finish_reason = "stop"
    if cut is not None:
        finish_reason, keep = cut
        tokens = tokens[:keep]
    if limit is not None and limit - reasoning_tokens < len(tokens):
        tokens, finish_reason = tokens[: max(0, limit - reasoning_tokens)], "length"
    completion = len(tokens) + reasoning_tokens
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
    if reasoning_tokens:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return Served(tokens, finish_reason, usage)


class Completion:
    """Serves one reply, streamed as SSE or whole, paced on an absolute schedule."""

    def __init__(
        self,
        record: Any,
        served: Served,
        *,
        completion_id: str,
        ttft: float,
        tokens_per_second: float,
        stream_mode: str = COMPACT,
    ):
        body = record.body
        self.record = record
        self.id = completion_id
        self.model = str(body.get("model") or "gpt-4o-mini")
        self.created = int(time.time())
        self.ttft = max(0.0, ttft)
        self.interval = 1.0 / tokens_per_second if tokens_per_second > 0 else 0.0
        self.tokens = served.tokens
        self.finish_reason = served.finish_reason
        self.usage = served.usage
        self.varied = stream_mode == VARIED
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        # Every chunk but the usage one carries "usage": null when the usage chunk is asked for.
        usage_field = ', "usage": null' if self.include_usage else ""
        envelope_head = json.dumps(self._envelope())[:-1]  # without the closing brace
        self._content_prefix = f'data: {envelope_head}, "choices": [{{"index": 0, "delta": {{"content": '
        self._content_suffix = f'}}, "logprobs": null, "finish_reason": null}}]{usage_field}}}\n\n'

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
        # A byte-order mark, a comment, and a block of only a retry: field (no event, per the spec).
        opening = "\ufeff: devkit stream\rretry: 3000\r\n\r\n".encode() if self.varied else b""
        pending = [opening, self._event({"role": "assistant", "content": "", "refusal": None})]
        sent = 0
        while sent < len(self.tokens):
            if sent and self.interval:
                await _sleep_until(loop, start + sent * self.interval)
            due = self._due(loop.time() - start, sent)
            pending.extend(
                self._content_event(n, piece) for n, piece in enumerate(self.tokens[sent:due], sent)
            )
            await response.write(b"".join(pending))
            pending.clear()
            if sent == 0:
                self.record.first_token_at = time.perf_counter()
            sent = due
        if self.finish_reason == STREAM_ERROR:
            pending.append(self._sse(_STREAM_ERROR_EVENT))
            await response.write(b"".join(pending))
            return
        pending.append(self._event({}, finish_reason=self.finish_reason))
        if self.include_usage:
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
        if self.finish_reason == STREAM_ERROR:  # what fails mid-stream fails whole as a 500
            self.record.status = 500
            return web.json_response(_STREAM_ERROR_EVENT, status=500)
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
        payload: dict[str, Any] = {**self._envelope(), "choices": [choice]}
        if self.include_usage:
            payload["usage"] = None
        return self._sse(payload)

    def _content_event(self, n: int, piece: str) -> bytes:
        if self.varied:
            return self._varied_event(n, self._event({"content": piece}))
        # Hot path under load: splice the piece into a prebuilt template instead of dumping a dict.
        return f"{self._content_prefix}{json.dumps(piece)}{self._content_suffix}".encode()

    def _varied_event(self, n: int, compact: bytes) -> bytes:
        """The same chunk as one event of many ``data:`` lines, with the other fields around it."""
        payload = json.loads(compact[len(b"data: ") :])
        payload["error"] = None
        lines = json.dumps(payload, indent=1).split("\n")  # one JSON value over several lines
        data = "".join(f"data:{'' if i % 2 else ' '}{line}\r\n" for i, line in enumerate(lines))
        fields = f"id: {self.id}-{n}\r\nevent: message\r\n" if n % 2 else ": keep-alive\n"
        ping = "event: ping\n\n" if n % 3 == 0 else ""  # no data: dispatches nothing
        return f"{ping}{fields}{data}\r\n".encode()

    def _sse(self, payload: dict[str, Any]) -> bytes:
        if self.varied:
            payload = {**payload, "error": None}
        return f"data: {json.dumps(payload)}\n\n".encode()


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float) -> None:
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
