"""The coaching model: OpenAI Chat Completions, streamed, with timeouts and retries.

The OpenAI client sends the request, so its timeout, retries (429, 5xx,
timeouts, dropped connections) and headers apply unchanged. Two of its
conveniences are skipped on this hot path because they cost more than the
rest of a turn together (measured with bench/, see the README):

- validating the messages against the SDK's TypedDicts (about 200 µs a
  message, 10 ms for a 50-message history): ours are plain JSON already, so
  they travel in ``extra_body``;
- building a pydantic object for every streamed chunk (about 160 µs each):
  the server-sent events are read as lines and decoded with ``json.loads``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from bot.config import Settings


@dataclass
class StreamStats:
    """What one streamed completion cost; filled in while it streams."""

    request_sent_at: float = 0.0
    first_token_at: float | None = None
    last_token_at: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    chunks: int = 0
    finished_at: float | None = None  # when the stream ended: complete, failed or closed early


class CoachModel:
    """Yields the reply's text as it arrives; errors reach the caller as ``openai.APIError``."""

    def __init__(self, client: openai.AsyncOpenAI, *, model: str, max_tokens: int) -> None:
        self._client = client
        self._model = model
        self._max_tokens = max_tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> CoachModel:
        client = openai.AsyncOpenAI(
            api_key=settings.openai_api_key or "missing-key",
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            # The SDK's aiohttp transport: about a third of the CPU per streamed
            # token of its default httpx2/anyio stack (bench/, see the README).
            http_client=openai.DefaultAioHttpClient(timeout=settings.openai_timeout),
        )
        return cls(client, model=settings.openai_model, max_tokens=settings.openai_max_tokens)

    async def close(self) -> None:
        await self._client.close()

    async def stream_reply(self, messages: list[dict[str, Any]], stats: StreamStats) -> AsyncIterator[str]:
        """Yield the reply's text pieces; ``stats`` is updated as they come."""
        stats.request_sent_at = time.perf_counter()
        request = self._client.chat.completions.with_streaming_response.create(
            model=self._model,
            messages=[],
            max_tokens=self._max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"messages": messages},
        )
        try:
            async with request as response:
                try:
                    async for line in response.iter_lines():
                        event = _server_sent_data(line)
                        if event is None:
                            continue
                        if event == "[DONE]":
                            return
                        for text in _read_chunk(json.loads(event), stats, response.http_request):
                            yield text
                            # Let the Slack writer send the first text now, even when the
                            # rest of the reply is already buffered here.
                            await asyncio.sleep(0)
                except httpx2.TransportError as error:
                    raise openai.APIConnectionError(request=response.http_request) from error
                if stats.finish_reason is None:
                    raise openai.APIConnectionError(
                        message="The model's stream ended early.", request=response.http_request
                    )
        finally:
            stats.finished_at = time.perf_counter()


def _server_sent_data(line: str) -> str | None:
    """The payload of an SSE ``data:`` line; None for comments, blank lines and other fields."""
    if not line.startswith("data:"):
        return None
    return line[5:].strip()


def _read_chunk(chunk: dict[str, Any], stats: StreamStats, request: httpx2.Request) -> list[str]:
    """The text in one ``chat.completion.chunk``, recording usage and timing on the way."""
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise openai.APIError(message or "The model reported an error.", request, body=chunk)
    usage = chunk.get("usage")
    if usage:
        stats.prompt_tokens = usage.get("prompt_tokens")
        stats.completion_tokens = usage.get("completion_tokens")
    texts = []
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            stats.finish_reason = choice["finish_reason"]
        text = (choice.get("delta") or {}).get("content")
        if text:
            now = time.perf_counter()
            if stats.first_token_at is None:
                stats.first_token_at = now
            stats.last_token_at = now
            stats.chunks += 1
            texts.append(text)
    return texts
