"""Reading the model's chunks (decoded by the SDK's own SSE decoder) without its per-chunk objects."""

import httpx2
import openai
import pytest

from bot.llm import StreamStats, _read_chunk, cut_off_note

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
