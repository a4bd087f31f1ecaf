"""The coaching model: OpenAI Chat Completions, streamed, with timeouts and retries.

The OpenAI client sends the request and decodes the stream with its own ``AsyncStream`` and
SSE decoder (multi-line ``data:``, comments, ``event:``/``id:``/``retry:`` fields, any line
end, ``[DONE]``, error events), so its timeout, retries (429, 5xx, timeouts, dropped
connections) and headers apply unchanged. ``SpecSSEDecoder`` adds the two rules of the SSE
spec the SDK's decoder misses (a block without data dispatches nothing; a leading BOM is
dropped), which would otherwise end a valid stream in a JSON error. Two of its conveniences are
skipped on this hot path because they cost more than the rest of a turn together (measured
with bench/, see the README):

- validating the messages against the SDK's TypedDicts (about 200 µs a message, 10 ms for a
  50-message history): ours are plain JSON already, so they travel in ``extra_body``;
- building a pydantic object for every streamed chunk (about 200 µs each,
  ``python -m bench.sse_decoding``): the stream is cast to plain dicts (``AsyncStream[object]``).

The reply limit travels as ``max_tokens`` or ``max_completion_tokens`` and is fitted to the
model's context window (``bot.conversation.model_fit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx2
import openai
from openai._response import AsyncAPIResponse
from openai._streaming import ServerSentEvent, SSEDecoder

from bot.assembly.config import Settings
from bot.conversation.model_fit import ModelFit
from bot.conversation.prompt import estimate_messages_tokens

logger = logging.getLogger(__name__)

#: The context window and the most output tokens in a 400's message, as OpenAI and vLLM word them.
_LIMIT_RES = (
    re.compile(r"maximum context length is (\d+) tokens"),
    re.compile(r"supports at most (\d+) completion tokens"),
)

#: What the coach is told when the model stopped before the reply was complete, by finish_reason.
CUT_OFF_NOTES = {
    "length": "\n\n_(My reply hit its length limit and stops here. Ask me to go on, or to be briefer.)_",
    "content_filter": "\n\n_(The model's content filter stopped my reply here. Try asking another way.)_",
}


def cut_off_note(finish_reason: str | None) -> str:
    """The note appended to a reply the model cut short; "" for a reply it finished."""
    return CUT_OFF_NOTES.get(finish_reason or "", "")


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

    @property
    def cut_off_note(self) -> str:
        """The note for the coach when the model cut the reply short; "" when it finished."""
        return cut_off_note(self.finish_reason)


def model_fit(settings: Settings) -> ModelFit:
    """How requests to OPENAI_MODEL are sized (``coachbot check``'s probe spells its limit so too)."""
    return ModelFit.for_model(
        settings.openai_model,
        max_tokens=settings.openai_max_tokens,
        token_parameter=settings.openai_token_parameter,
        context_window=settings.openai_context_window,
    )


class SpecSSEDecoder(SSEDecoder):
    """The SDK's SSE decoder, with the spec's rules for blocks without data and a leading BOM."""

    def decode(self, line: str) -> ServerSentEvent | None:
        event = super().decode(line.removeprefix("\ufeff"))
        # "If the data buffer is an empty string, set the buffers to empty and return": a block
        # of only ``retry:``, ``id:`` or ``event:`` fields is not an event.
        return event if event is None or event.data else None


class CoachClient(openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` whose streams decode with ``SpecSSEDecoder``."""

    def _make_sse_decoder(self) -> SSEDecoder:
        return SpecSSEDecoder()


class CoachModel:
    """Yields the reply's text as it arrives; errors reach the caller as ``openai.APIError``."""

    def __init__(self, client: openai.AsyncOpenAI, *, model: str, fit: ModelFit) -> None:
        self._client = client
        self._model = model
        self.fit = fit

    @classmethod
    def from_settings(cls, settings: Settings) -> CoachModel:
        client = CoachClient(
            api_key=settings.openai_api_key or "missing-key",
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            # The SDK's aiohttp transport: about a third of the CPU per streamed
            # token of its default httpx2/anyio stack (bench/, see the README).
            http_client=openai.DefaultAioHttpClient(timeout=settings.openai_timeout),
        )
        return cls(client, model=settings.openai_model, fit=model_fit(settings))

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The pooled OpenAI client, for the other calls a capability makes (memory's extraction)."""
        return self._client

    @property
    def name(self) -> str:
        return self._model

    async def close(self) -> None:
        await self._client.close()

    async def stream_reply(self, messages: list[dict[str, Any]], stats: StreamStats) -> AsyncIterator[str]:
        """Yield the reply's text pieces; ``stats`` is updated as they come."""
        stats.request_sent_at = time.perf_counter()
        prompt_tokens = estimate_messages_tokens(messages)
        try:
            async with contextlib.AsyncExitStack() as stack:
                response = await self._open(stack, messages, prompt_tokens)
                chunks = await response.parse(to=openai.AsyncStream[object])
                async for chunk in chunks:
                    for text in _read_chunk(chunk, stats, response.http_request):
                        yield text
                        # Let the Slack writer send the first text now, even when the
                        # rest of the reply is already buffered here.
                        await asyncio.sleep(0)
                if stats.finish_reason is None:
                    raise openai.APIConnectionError(
                        message="The model's stream ended early.", request=response.http_request
                    )
        finally:
            stats.finished_at = time.perf_counter()

    async def _open(
        self, stack: contextlib.AsyncExitStack, messages: list[dict[str, Any]], prompt_tokens: int
    ) -> AsyncAPIResponse[Any]:
        """The streaming response; sent again, fitted, while the server names a limit we didn't know."""
        for _ in range(2):  # the most output tokens, then the window: each learned once
            try:
                return await stack.enter_async_context(self._request(messages, prompt_tokens))
            except openai.BadRequestError as error:
                if not self._learn_limits(error, prompt_tokens):
                    raise
        return await stack.enter_async_context(self._request(messages, prompt_tokens))

    def _request(self, messages: list[dict[str, Any]], prompt_tokens: int) -> Any:
        return self._client.chat.completions.with_streaming_response.create(
            model=self._model,
            messages=[],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"messages": messages, self.fit.token_parameter: self.fit.reply_limit(prompt_tokens)},
        )

    def _learn_limits(self, error: openai.BadRequestError, prompt_tokens: int) -> bool:
        """Take the window, or the most output tokens, from the server's refusal.

        OpenAI and vLLM word them alike ("maximum context length is 8192 tokens", "supports at
        most 4096 completion tokens"). True when this request fits what was learned; later
        turns' prompts are fitted to it too.
        """
        text = str(error.message)
        window, output = (int(m[1]) if (m := regex.search(text)) else None for regex in _LIMIT_RES)
        learned = replace(
            self.fit,
            context_window=window or self.fit.context_window,
            max_output_tokens=output or self.fit.max_output_tokens,
        )
        if learned == self.fit:
            return False
        self.fit = learned
        logger.warning(
            "The model's server refused the request's size: context window %s, most output tokens %s; "
            "set OPENAI_CONTEXT_WINDOW / OPENAI_MAX_TOKENS to match",
            learned.context_window,
            learned.max_output_tokens,
        )
        return self.fit.reply_limit(prompt_tokens) > 1


def _read_chunk(chunk: Any, stats: StreamStats, request: httpx2.Request) -> list[str]:
    """The text in one ``chat.completion.chunk``, recording usage and timing on the way.

    The SDK has already raised for an event whose ``error`` is set; ``"error": null`` is none.
    """
    if not isinstance(chunk, dict):
        raise openai.APIError("The model sent a chunk that is not an object.", request, body=chunk)
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
