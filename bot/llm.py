"""The coaching model: OpenAI Chat Completions, streamed, with timeouts and retries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

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
    chunks: int = field(default=0)


class CoachModel:
    """A thin layer over ``AsyncOpenAI`` that yields reply text as it arrives.

    Retries (429, 5xx, timeouts, dropped connections) and the request timeout
    are the OpenAI client's own; they apply until the stream starts. Errors
    reach the caller as ``openai.APIError`` subclasses.
    """

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
        )
        return cls(client, model=settings.openai_model, max_tokens=settings.openai_max_tokens)

    async def close(self) -> None:
        await self._client.close()

    async def stream_reply(self, messages: list[dict[str, str]], stats: StreamStats) -> AsyncIterator[str]:
        """Yield the reply's text pieces; ``stats`` is updated as they come."""
        stats.request_sent_at = time.perf_counter()
        stream = await self._client.chat.completions.create(
            model=self._model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=self._max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    stats.prompt_tokens = chunk.usage.prompt_tokens
                    stats.completion_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.finish_reason:
                        stats.finish_reason = choice.finish_reason
                    text = choice.delta.content if choice.delta else None
                    if text:
                        now = time.perf_counter()
                        if stats.first_token_at is None:
                            stats.first_token_at = now
                        stats.last_token_at = now
                        stats.chunks += 1
                        yield text
