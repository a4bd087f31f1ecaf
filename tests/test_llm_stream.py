"""Reading the model's server-sent events without the SDK's per-chunk objects."""

import httpx2
import openai
import pytest

from bot.llm import StreamStats, _read_chunk, _server_sent_data

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def test_only_data_lines_carry_events() -> None:
    assert _server_sent_data('data: {"a": 1}') == '{"a": 1}'
    assert _server_sent_data("data: [DONE]") == "[DONE]"
    assert _server_sent_data(": keep-alive") is None
    assert _server_sent_data("") is None


def test_a_chunk_yields_its_text_and_records_timing_usage_and_finish() -> None:
    stats = StreamStats()
    assert _read_chunk({"choices": [{"delta": {"content": "Hi"}}]}, stats, REQUEST) == ["Hi"]
    assert _read_chunk({"choices": [{"delta": {}, "finish_reason": "stop"}]}, stats, REQUEST) == []
    assert (
        _read_chunk({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}, stats, REQUEST)
        == []
    )
    assert stats.first_token_at is not None and stats.first_token_at == stats.last_token_at
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (9, 1, "stop")


def test_an_error_event_in_the_stream_raises_an_api_error() -> None:
    with pytest.raises(openai.APIError, match="overloaded"):
        _read_chunk({"error": {"message": "overloaded"}}, StreamStats(), REQUEST)
