"""The model's request sized for its family and window, and its stream read as the SSE spec says."""

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest
from openai._streaming import SSEDecoder

from bot.assembly.config import Settings
from bot.conversation.llm import CoachModel, SpecSSEDecoder, StreamStats, _read_chunk, cut_off_note
from devkit.fake_openai import FakeOpenAI
from devkit.openai_rules import count_prompt_tokens

pytest_plugins = ["tests.fixtures.fakes"]

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def test_a_chunk_yields_its_text_and_records_timing_usage_and_finish() -> None:
    stats = StreamStats()
    assert _read_chunk({"choices": [{"delta": {"content": "Hi"}}], "usage": None}, stats, REQUEST) == ["Hi"]
    assert _read_chunk({"choices": [{"delta": {}, "finish_reason": "stop"}]}, stats, REQUEST) == []
    assert (
        _read_chunk({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}, stats, REQUEST)
        == []
    )
    assert stats.first_token_at is not None and stats.first_token_at == stats.last_token_at
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (9, 1, "stop")


def test_a_null_error_field_is_no_error() -> None:
    chunk = {"choices": [{"delta": {"content": "ok"}}], "error": None}

    assert _read_chunk(chunk, StreamStats(), REQUEST) == ["ok"]


def test_a_chunk_that_is_not_an_object_raises_an_api_error() -> None:
    with pytest.raises(openai.APIError):
        _read_chunk(["not", "a", "chunk"], StreamStats(), REQUEST)


def test_a_reply_cut_short_gets_a_note_saying_why() -> None:
    assert cut_off_note("stop") == "" and cut_off_note(None) == ""
    assert "length limit" in cut_off_note("length")
    assert "content filter" in cut_off_note("content_filter")


async def decode(raw: bytes, decoder: SSEDecoder) -> list[str]:
    async def body() -> AsyncIterator[bytes]:
        for n in range(0, len(raw), 7):  # split mid-line, as the network does
            yield raw[n : n + 7]

    return [event.data async for event in decoder.aiter_bytes(body())]


async def test_the_decoder_joins_multi_line_data_and_skips_what_the_spec_ignores() -> None:
    raw = (
        "\ufeff: comment\r\nretry: 10\r\n\r\n"  # a BOM, a comment, a block of only retry:
        "event: ping\n\n"  # an event without data
        'id: 7\revent: message\rdata: {"a":\rdata:  1}\r\r'  # CR line ends, two data lines
        'data: {"b": 2}\n\ndata: [DONE]\n\n'
    ).encode()

    assert await decode(raw, SpecSSEDecoder()) == ['{"a":\n 1}', '{"b": 2}', "[DONE]"]


async def test_the_sdks_own_decoder_would_dispatch_blocks_without_data() -> None:
    assert "" in await decode(b"retry: 10\n\ndata: {}\n\n", SSEDecoder())
    assert await decode(b"retry: 10\n\ndata: {}\n\n", SpecSSEDecoder()) == ["{}"]


def model_for(fake: FakeOpenAI, **overrides: object) -> CoachModel:
    settings = Settings(openai_api_key=fake.api_key, openai_base_url=fake.base_url, openai_max_retries=0)
    return CoachModel.from_settings(settings.with_overrides(**overrides))


async def reply_of(model: CoachModel, messages: list[dict[str, Any]]) -> tuple[str, StreamStats]:
    stats = StreamStats()
    try:
        text = "".join([piece async for piece in model.stream_reply(messages, stats)])
    finally:
        await model.close()
    return text, stats


HI = [{"role": "system", "content": "Coach."}, {"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("model", "parameter"),
    [("gpt-4o-mini", "max_tokens"), ("o4-mini", "max_completion_tokens"), ("gpt-5", "max_completion_tokens")],
)
async def test_the_reply_limit_travels_in_the_parameter_the_model_family_takes(
    fake_openai: FakeOpenAI, model: str, parameter: str
) -> None:
    fake_openai.queue_reply("Answered.")

    text, stats = await reply_of(model_for(fake_openai, openai_model=model), HI)

    assert (text, stats.finish_reason) == ("Answered.", "stop")
    [request] = fake_openai.requests
    other = {"max_tokens", "max_completion_tokens"} - {parameter}
    assert request.body[parameter] == 16000 and not other & request.body.keys()


async def test_the_token_parameter_can_be_forced_for_a_server_that_wants_the_other(
    fake_openai: FakeOpenAI,
) -> None:
    await reply_of(model_for(fake_openai, openai_token_parameter="max_completion_tokens"), HI)

    assert "max_completion_tokens" in fake_openai.requests[0].body
    assert "max_tokens" not in fake_openai.requests[0].body


async def test_the_reply_limit_shrinks_to_fit_a_small_context_window(fake_openai: FakeOpenAI) -> None:
    fake_openai.rules.windows["local-8k"] = (8192, 8192)
    history = [*HI, {"role": "assistant", "content": "word " * 2000}, {"role": "user", "content": "more"}]

    text, stats = await reply_of(
        model_for(fake_openai, openai_model="local-8k", openai_context_window=8192), history
    )

    assert stats.finish_reason == "stop" and text
    body = fake_openai.requests[0].body
    assert body["max_tokens"] + count_prompt_tokens(body) <= 8192
    assert body["max_tokens"] > 4000  # the reply keeps what the prompt leaves


async def test_a_window_the_server_names_is_learned_and_the_request_sent_again_fitted(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.rules.windows["local-8k"] = (8192, 8192)
    model = model_for(fake_openai, openai_model="local-8k")  # OPENAI_CONTEXT_WINDOW not set

    text, stats = await reply_of(model, HI)

    assert text and stats.finish_reason == "stop"
    assert [r.status for r in fake_openai.requests] == [400, 400, 200]  # most output, then window
    assert model.fit.context_window == 8192 and model.fit.prompt_budget(12000) < 8192
    assert "context window 8192" in caplog.text


async def test_a_prompt_too_long_for_the_named_window_is_not_sent_again_once_it_is_known(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.rules.windows["tiny"] = (50, 50)

    with pytest.raises(openai.BadRequestError):
        await reply_of(
            model_for(fake_openai, openai_model="tiny"), [{"role": "user", "content": "word " * 100}]
        )

    assert [r.status for r in fake_openai.requests] == [400, 400]  # most output, then window: no fit


async def test_a_known_models_output_limit_caps_the_reply_limit(fake_openai: FakeOpenAI) -> None:
    await reply_of(model_for(fake_openai, openai_model="gpt-4-turbo"), HI)

    assert fake_openai.requests[0].body["max_tokens"] == 4096


async def test_the_varied_stream_decodes_to_the_exact_reply(fake_openai: FakeOpenAI) -> None:
    fake_openai.stream_mode = "varied"
    reply = 'Line one.\n\n- a point\n- "quoted" and ünïcode 你好 ' * 5
    fake_openai.queue_reply(reply)

    text, stats = await reply_of(model_for(fake_openai), HI)

    assert text == reply
    assert stats.finish_reason == "stop" and stats.completion_tokens is not None


async def test_an_error_event_mid_stream_raises_an_api_error_after_the_text_so_far(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.queue_reply("one two six ten")
    fake_openai.cut_next("error", after_tokens=2)
    model = model_for(fake_openai)
    pieces: list[str] = []

    with pytest.raises(openai.APIError, match="server had an error"):
        try:
            async for piece in model.stream_reply(HI, StreamStats()):
                pieces.append(piece)
        finally:
            await model.close()

    assert "".join(pieces) == "one two"
