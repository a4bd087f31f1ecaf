"""Per-chunk cost of reading the model's stream: the SDK's SSE decoder beside the alternatives.

One streamed reply is replayed from memory (no network, no server), one server-sent event per
read as a loaded network delivers them, through three readers over the same ``httpx2.Response``:

- ``lines``: the reader coachbot had before issue 9 (``aiter_lines``, keep ``data:`` lines,
  ``json.loads``), which broke on multi-line events and on ``"error": null``;
- ``sdk``: the SDK's own ``AsyncStream`` (its ``SSEDecoder`` with ``bot.conversation.llm.SpecSSEDecoder``'s
  two spec rules, ``[DONE]`` and error handling) yielding the chunks as dicts
  (``cast_to=object``), what ``bot.conversation.llm`` uses now;
- ``sdk_pydantic``: the same with a ``ChatCompletionChunk`` object per chunk (the SDK's default).

Rounds alternate between the readers so the machine's noise falls on all alike; the median of
the rounds is reported, in µs per chunk::

    .venv/bin/python -m bench.sse_decoding --chunks 2000 --rounds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

from bot.conversation.llm import CoachClient

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def stream_events(chunks: int) -> list[bytes]:
    """A reply of ``chunks`` content events, a finish event, the usage chunk and ``[DONE]``."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
    events = []
    for n in range(chunks):
        choice = {"index": 0, "delta": {"content": f" w{n:03d}"}, "logprobs": None, "finish_reason": None}
        events.append({**head, "choices": [choice], "usage": None})
    events.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None})
    events.append({**head, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": chunks}})
    raw = [f"data: {json.dumps(event)}\n\n".encode() for event in events]
    return [*raw, b"data: [DONE]\n\n"]


def response_of(events: list[bytes]) -> httpx2.Response:
    async def body() -> AsyncIterator[bytes]:
        for event in events:
            yield event

    return httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, content=body(), request=REQUEST
    )


async def read_lines(response: httpx2.Response, client: openai.AsyncOpenAI) -> int:
    count = 0
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        json.loads(data)
        count += 1
    return count


async def read_sdk(response: httpx2.Response, client: openai.AsyncOpenAI) -> int:
    count = 0
    async for _chunk in openai.AsyncStream(cast_to=object, response=response, client=client):
        count += 1
    return count


async def read_sdk_pydantic(response: httpx2.Response, client: openai.AsyncOpenAI) -> int:
    count = 0
    async for _chunk in openai.AsyncStream(cast_to=ChatCompletionChunk, response=response, client=client):
        count += 1
    return count


READERS: dict[str, Callable[[httpx2.Response, openai.AsyncOpenAI], Awaitable[int]]] = {
    "lines": read_lines,
    "sdk": read_sdk,
    "sdk_pydantic": read_sdk_pydantic,
}


async def measure(chunks: int, rounds: int) -> dict[str, float]:
    events = stream_events(chunks)
    client = CoachClient(api_key="sk-bench", base_url="http://127.0.0.1/v1")
    samples: dict[str, list[float]] = {name: [] for name in READERS}
    try:
        for _ in range(rounds):
            for name, reader in READERS.items():
                response = response_of(events)
                started = time.perf_counter()
                read = await reader(response, client)
                elapsed = time.perf_counter() - started
                assert read == len(events) - 1, (name, read)
                samples[name].append(elapsed / read * 1e6)
    finally:
        await client.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args(argv)
    medians = asyncio.run(measure(opts.chunks, opts.rounds))
    for name, micros in medians.items():
        print(f"{name:>13}: {micros:7.1f} µs per chunk (median of {opts.rounds} rounds)")


if __name__ == "__main__":
    main()
