"""The fake OpenAI speaks Chat Completions well enough for the real openai client, faults included."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from devkit.fake_openai import FakeOpenAI, image_urls, split_tokens
from tests.fixtures.waiting import until

pytest_plugins = ["tests.fixtures.fakes"]

REPO_ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-devkit"


def client(fake: FakeOpenAI, **kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key=kwargs.pop("api_key", API_KEY), **kwargs)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def stream_reply(
    fake: FakeOpenAI, messages: list[dict[str, str]], **kwargs: Any
) -> tuple[str, Any, float | None]:
    """(text, usage, seconds until the first content) of one streamed completion."""
    async with client(fake, **kwargs) as ai:
        started = time.perf_counter()
        stream = await ai.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        usage = None
        first: float | None = None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.choices and chunk.choices[0].delta.content:
                first = first if first is not None else time.perf_counter() - started
                parts.append(chunk.choices[0].delta.content)
        return "".join(parts), usage, first


def test_tokens_are_about_four_characters_and_join_back_to_the_text() -> None:
    text = "  Hello there,\n\n  coach!  Ünïcode — and   spaces \t"

    pieces = split_tokens(text)

    assert "".join(pieces) == text
    assert all(len(p.strip()) <= 4 for p in pieces)


async def test_streaming_returns_the_exact_reply_and_a_usage_chunk(fake_openai: FakeOpenAI) -> None:
    reply = "Let's start.\n\n- What went well?\n- What would you change?  "
    fake_openai.queue_reply(reply)

    text, usage, _ = await stream_reply(fake_openai, [user("x" * 40)])

    assert text == reply
    assert usage.completion_tokens == len(split_tokens(reply))
    assert usage.prompt_tokens >= 40 // 4  # never fewer than four characters a token
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_stream_is_server_sent_events_with_role_then_content_then_stop(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_reply("Hi there")
    async with client(fake_openai) as ai:
        stream = await ai.chat.completions.create(model="gpt-4o-mini", messages=[user("hi")], stream=True)
        chunks = [chunk async for chunk in stream]

    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].object == "chat.completion.chunk"
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_default_reply_counts_user_messages_and_quotes_the_last_one(fake_openai: FakeOpenAI) -> None:
    history = [
        {"role": "system", "content": "You are a coach."},
        user("I want to get better at feedback."),
        {"role": "assistant", "content": "Tell me more."},
        user("My team says I am too blunt."),
    ]

    first, _, _ = await stream_reply(fake_openai, history[:2])
    second, _, _ = await stream_reply(fake_openai, history)

    assert (
        first == "Reply 1: you have told me 1 things so far. Last you said: I want to get better at feedback."
    )
    assert second == "Reply 2: you have told me 2 things so far. Last you said: My team says I am too blunt."


async def test_scripted_replies_come_first_then_the_reply_function() -> None:
    with FakeOpenAI(reply=lambda body: f"echo {len(body['messages'])}") as fake:
        fake.queue_reply("scripted")

        first, _, _ = await stream_reply(fake, [user("a")])
        second, _, _ = await stream_reply(fake, [user("a"), user("b")])

    assert (first, second) == ("scripted", "echo 2")


async def test_non_streaming_requests_get_a_whole_chat_completion(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_reply("All in one go.")
    async with client(fake_openai) as ai:
        completion = await ai.chat.completions.create(model="gpt-4o-mini", messages=[user("hi")])

    assert completion.choices[0].message.content == "All in one go."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == len(
        split_tokens("All in one go.")
    )


async def test_max_tokens_cuts_the_reply_with_finish_reason_length(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_reply("one two three four five six")
    async with client(fake_openai) as ai:
        completion = await ai.chat.completions.create(
            model="gpt-4o-mini", messages=[user("hi")], max_completion_tokens=2
        )

    assert completion.choices[0].message.content == "one two"
    assert completion.choices[0].finish_reason == "length"


async def test_first_token_waits_for_ttft_and_is_recorded(fake_openai: FakeOpenAI) -> None:
    fake_openai.ttft = 0.2

    _, _, first = await stream_reply(fake_openai, [user("hi")])

    [record] = fake_openai.requests
    assert first is not None and first >= 0.2
    assert record.ttft is not None and record.ttft >= 0.2
    assert record.finished_at is not None and record.finished_at >= record.first_token_at
    assert record.status == 200 and record.reply is not None


async def test_tokens_are_paced_at_tokens_per_second(fake_openai: FakeOpenAI) -> None:
    fake_openai.tokens_per_second = 100
    fake_openai.queue_reply("abcd" * 30)  # 30 tokens: 29 gaps of 10 ms after the first

    started = time.perf_counter()
    text, _, _ = await stream_reply(fake_openai, [user("hi")])

    assert text == "abcd" * 30
    assert time.perf_counter() - started >= 0.28


async def test_rate_limit_with_retry_after_is_retried_by_the_client_and_succeeds(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.fail_next(429, retry_after=0.01)
    fake_openai.queue_reply("after the wait")

    text, _, _ = await stream_reply(fake_openai, [user("hi")], max_retries=2)

    assert text == "after the wait"
    assert [r.status for r in fake_openai.requests] == [429, 200]
    assert fake_openai.requests[1].headers["x-stainless-retry-count"] == "1"


async def test_persistent_server_errors_raise_internal_server_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(500, times=5)

    with pytest.raises(openai.InternalServerError):
        await stream_reply(fake_openai, [user("hi")], max_retries=1)

    assert [r.status for r in fake_openai.requests] == [500, 500]


async def test_an_injected_error_body_is_openai_shaped(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(400)

    with pytest.raises(openai.BadRequestError) as caught:
        await stream_reply(fake_openai, [user("hi")])

    assert caught.value.body["type"] == "invalid_request_error"


async def test_a_stalled_response_trips_the_client_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.stall_next(2.0)

    with pytest.raises(openai.APITimeoutError):
        await stream_reply(fake_openai, [user("hi")], timeout=0.3, max_retries=0)
    await until(lambda: fake_openai.requests[0].finished_at is not None)

    text, _, _ = await stream_reply(fake_openai, [user("hi")])
    assert text.startswith("Reply 1:")
    assert fake_openai.requests[0].disconnected is True


async def test_a_client_that_hangs_up_mid_stream_is_recorded_as_disconnected(fake_openai: FakeOpenAI) -> None:
    fake_openai.tokens_per_second = 20
    async with client(fake_openai) as ai:
        stream = await ai.chat.completions.create(model="gpt-4o-mini", messages=[user("hi")], stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        await stream.close()

    await until(lambda: fake_openai.requests[0].finished_at is not None)
    [record] = fake_openai.requests
    assert record.disconnected is True and record.first_token_at is not None


async def test_a_wrong_api_key_raises_authentication_error(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        await stream_reply(fake_openai, [user("hi")], api_key="sk-wrong")

    assert [r.status for r in fake_openai.requests] == [401]


async def test_models_are_listed(fake_openai: FakeOpenAI) -> None:
    async with client(fake_openai) as ai:
        models = await ai.models.list()

    assert "gpt-4o-mini" in [m.id async for m in models]


async def test_requests_are_exposed_to_other_processes(fake_openai: FakeOpenAI) -> None:
    await stream_reply(fake_openai, [user("hi")])
    origin = fake_openai.base_url.removesuffix("/v1")

    with urllib.request.urlopen(f"{origin}/_devkit/requests", timeout=5) as response:
        records = json.loads(response.read())

    assert records[0]["body"]["messages"] == [user("hi")]
    assert records[0]["first_token_at"] is not None


def test_runs_as_a_separate_process_and_prints_its_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit.fake_openai", "--port", "0", "--ttft", "0.01", "--tps", "1000"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("LISTENING http://127.0.0.1:") and line.endswith("/v1")
        sync = openai.OpenAI(base_url=line.split()[1], api_key=API_KEY)
        completion = sync.chat.completions.create(model="gpt-4o-mini", messages=[user("hi")])
        sync.close()
        assert completion.choices[0].message.content.startswith("Reply 1:")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


async def test_list_content_with_an_image_part_is_accepted_and_recorded(fake_openai: FakeOpenAI) -> None:
    parts = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    fake_openai.queue_reply("A chart.")

    text, _usage, _first = await stream_reply(fake_openai, [{"role": "user", "content": parts}])

    assert text == "A chart."
    assert fake_openai.requests[-1].body["messages"][0]["content"] == parts
    assert image_urls(fake_openai.requests[-1].body) == ["data:image/png;base64,iVBORw0KGgo="]


async def test_a_malformed_content_part_is_refused_like_openai_does(fake_openai: FakeOpenAI) -> None:
    bad = [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]
    with pytest.raises(openai.BadRequestError, match="image_url"):
        await stream_reply(fake_openai, [{"role": "user", "content": bad}], max_retries=0)
