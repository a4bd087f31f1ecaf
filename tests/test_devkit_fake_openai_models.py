"""The fake OpenAI is as strict per model as OpenAI documents, through the real client over HTTP.

Reasoning models' parameters, context windows and output limits, finish reasons other than
"stop", and a stream in every form the SSE spec allows; each rule can be switched off.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import aiohttp
import bpe_openai
import openai
import pytest

from devkit.fake_openai import FakeOpenAI
from devkit.openai_rules import count_prompt_tokens, count_tokens

pytest_plugins = ["tests.fixtures.fakes"]

API_KEY = "sk-devkit"
HI = [{"role": "user", "content": "hi"}]


def client(fake: FakeOpenAI) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key=API_KEY, max_retries=0)


async def refusal(fake: FakeOpenAI, **request: Any) -> dict[str, Any]:
    """The error object of a request the fake answers 400."""
    async with client(fake) as ai:
        with pytest.raises(openai.BadRequestError) as caught:
            await ai.chat.completions.create(**{"messages": HI, **request})
    assert caught.value.status_code == 400
    return caught.value.body


async def complete(fake: FakeOpenAI, **request: Any) -> Any:
    async with client(fake) as ai:
        return await ai.chat.completions.create(**{"messages": HI, **request})


async def streamed(fake: FakeOpenAI, **request: Any) -> tuple[str, list[Any]]:
    async with client(fake) as ai:
        stream = await ai.chat.completions.create(
            **{"messages": HI, "stream": True, "stream_options": {"include_usage": True}, **request}
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


async def raw_stream(fake: FakeOpenAI, **request: Any) -> bytes:
    body = {"model": "gpt-4o-mini", "messages": HI, "stream": True, **request}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{fake.base_url}/chat/completions"
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
        return await response.read()


@pytest.mark.parametrize("model", ["o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini"])
async def test_reasoning_models_refuse_max_tokens_with_openais_error(
    fake_openai: FakeOpenAI, model: str
) -> None:
    error = await refusal(fake_openai, model=model, max_tokens=100)

    assert error == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    assert fake_openai.requests[-1].status == 400


async def test_reasoning_models_answer_with_max_completion_tokens(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_reply("Thought it through.")

    completion = await complete(fake_openai, model="o4-mini", max_completion_tokens=100)

    assert completion.choices[0].message.content == "Thought it through."


async def test_reasoning_models_take_only_the_default_sampling(fake_openai: FakeOpenAI) -> None:
    error = await refusal(fake_openai, model="o4-mini", temperature=0.7)
    assert (error["code"], error["param"]) == ("unsupported_value", "temperature")
    assert "Only the default (1) value is supported." in error["message"]

    error = await refusal(fake_openai, model="gpt-5", presence_penalty=0.5)
    assert (error["code"], error["param"]) == ("unsupported_parameter", "presence_penalty")

    assert (await complete(fake_openai, model="o4-mini", temperature=1)).choices[0].finish_reason == "stop"


async def test_other_models_still_take_max_tokens_and_temperature(fake_openai: FakeOpenAI) -> None:
    completion = await complete(fake_openai, model="gpt-4o-mini", max_tokens=100, temperature=0.2)

    assert completion.choices[0].finish_reason == "stop"


async def test_the_reasoning_rule_can_be_switched_off(fake_openai: FakeOpenAI) -> None:
    fake_openai.rules.reasoning_parameters = False

    completion = await complete(fake_openai, model="o4-mini", max_tokens=100, temperature=0.5)

    assert completion.choices[0].finish_reason == "stop"


async def test_prompt_plus_reply_limit_over_the_window_is_context_length_exceeded(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.rules.windows["local-8k"] = (8192, 4096)
    messages = [{"role": "user", "content": "word " * 5000}]
    prompt = count_prompt_tokens({"messages": messages})

    error = await refusal(fake_openai, model="local-8k", messages=messages, max_tokens=4000)

    assert error == {
        "message": f"This model's maximum context length is 8192 tokens. However, you requested "
        f"{prompt + 4000} tokens ({prompt} in the messages, 4000 in the completion). "
        "Please reduce the length of the messages or completion.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    assert (
        await complete(fake_openai, model="local-8k", messages=messages, max_tokens=8192 - prompt)
    ).choices


async def test_a_prompt_alone_over_the_window_is_refused_without_a_limit(fake_openai: FakeOpenAI) -> None:
    fake_openai.rules.windows["local-8k"] = (8192, 4096)

    error = await refusal(
        fake_openai, model="local-8k", messages=[{"role": "user", "content": "word " * 9000}]
    )

    assert error["code"] == "context_length_exceeded"
    assert "However, your messages resulted in" in error["message"]


async def test_without_a_limit_the_reply_stops_at_the_window(fake_openai: FakeOpenAI) -> None:
    fake_openai.rules.windows["tiny"] = (20, 20)
    fake_openai.queue_reply("one two three four five six seven eight nine ten " * 3)

    completion = await complete(fake_openai, model="tiny")

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 20 - count_prompt_tokens({"messages": HI})


async def test_a_reply_limit_over_the_models_output_is_refused(fake_openai: FakeOpenAI) -> None:
    error = await refusal(fake_openai, model="gpt-4o-mini", max_tokens=20_000)

    assert error["message"] == (
        "max_tokens is too large: 20000. This model supports at most 16384 completion tokens, "
        "whereas you provided 20000."
    )
    assert error["param"] == "max_tokens"


async def test_the_window_rule_can_be_switched_off(fake_openai: FakeOpenAI) -> None:
    fake_openai.rules.context_windows = False

    completion = await complete(fake_openai, model="gpt-4", max_tokens=100_000)

    assert completion.choices[0].finish_reason == "stop"


def test_tokens_are_counted_as_openais_own_tokenizer_counts_them() -> None:
    o200k = bpe_openai.get_encoding("o200k_base")  # GPT-4o and later, shipped offline
    for text in ("你好，世界", "😀😀", "12345678", "a, b, c", "The team misses deadlines.", "<|endoftext|>"):
        assert count_tokens(text) == len(o200k.encode_ordinary(text))
    assert count_tokens("12345678") == 3  # digits go in threes, as in OpenAI's tokenizers


async def test_cjk_text_fills_a_window_at_a_token_a_character(fake_openai: FakeOpenAI) -> None:
    fake_openai.rules.windows["local-8k"] = (8192, 4096)

    error = await refusal(fake_openai, model="local-8k", messages=[{"role": "user", "content": "你" * 9000}])

    assert error["code"] == "context_length_exceeded"


@pytest.mark.parametrize("finish_reason", ["length", "content_filter"])
async def test_a_scripted_cut_ends_the_reply_with_that_finish_reason(
    fake_openai: FakeOpenAI, finish_reason: str
) -> None:
    fake_openai.queue_reply("one two three four five")
    fake_openai.cut_next(finish_reason, after_tokens=2)

    text, chunks = await streamed(fake_openai, model="gpt-4o-mini")

    assert text == "one two"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 2


async def test_reasoning_tokens_spend_the_reply_limit_first(fake_openai: FakeOpenAI) -> None:
    fake_openai.reasoning_tokens = 50

    completion = await complete(fake_openai, model="o4-mini", max_completion_tokens=50)

    assert completion.choices[0].message.content == ""
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens_details.reasoning_tokens == 50


async def test_the_usage_chunk_comes_last_and_every_other_chunk_has_null_usage(
    fake_openai: FakeOpenAI,
) -> None:
    raw = await raw_stream(fake_openai, stream_options={"include_usage": True})
    events = [json.loads(line[6:]) for line in raw.decode().split("\n\n") if line.startswith("data: {")]

    assert all("usage" in e and e["usage"] is None for e in events[:-1])
    assert events[-1]["choices"] == [] and events[-1]["usage"]["prompt_tokens"] > 0


async def test_the_varied_stream_uses_every_form_the_sse_spec_allows(fake_openai: FakeOpenAI) -> None:
    fake_openai.stream_mode = "varied"
    reply = 'Line one.\n\n- a point\n- "quoted" and ünïcode 你好'
    fake_openai.queue_reply(reply)

    raw = (await raw_stream(fake_openai, stream_options={"include_usage": True})).decode()

    assert raw.count("data:") > 3 * len(raw.split("\r\n\r\n"))  # events span several data: lines
    for form in (
        "\r\n",
        ": keep-alive\n",
        "event: message\r\n",
        "id: chatcmpl-",
        "retry: 3000",
        '"error": null',
    ):
        assert form in raw
    assert raw.rstrip().endswith("data: [DONE]")


def test_the_stream_mode_can_be_set_from_another_process(fake_openai: FakeOpenAI) -> None:
    origin = fake_openai.base_url.removesuffix("/v1")
    request = urllib.request.Request(
        f"{origin}/_devkit/config", data=json.dumps({"stream_mode": "varied"}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["stream_mode"] == "varied"

    assert fake_openai.stream_mode == "varied"
