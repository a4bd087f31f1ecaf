"""The model sees the system prompt, the coach's memory, the session's opening and as much recent
history as the budget allows, counted in the model's own tokens."""

import bpe_openai

from bot.conversation.prompt import (
    GAP_NOTE,
    IMAGE_TOKENS,
    MEMORY_SHARE,
    build_messages,
    estimate_messages_tokens,
    estimate_tokens,
)
from bot.conversation.tokens import count_tokens
from storage.conversations import HistoryMessage


def history(*texts: str) -> list[HistoryMessage]:
    roles = ["user", "assistant"]
    return [HistoryMessage(role=roles[i % 2], text=t) for i, t in enumerate(texts)]


def contents(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages]


def test_system_prompt_comes_first_and_history_follows_in_order() -> None:
    messages = build_messages(history("hi", "hello", "help me"), system_prompt="SYS", token_budget=1000)
    assert messages[0] == {"role": "system", "content": "SYS"}
    assert contents(messages[1:]) == ["hi", "hello", "help me"]


def test_the_opening_stays_and_the_middle_is_dropped_oldest_first() -> None:
    turns = history("my goal", "a " * 200, "b " * 200, "c " * 200, "latest")
    budget = sum(estimate_tokens(t) for t in ("SYS", "my goal", GAP_NOTE, "c " * 200, "latest"))

    messages = build_messages(turns, system_prompt="SYS", token_budget=budget)

    assert contents(messages) == ["SYS", "my goal", GAP_NOTE, "c " * 200, "latest"]


def test_no_gap_note_when_nothing_was_dropped() -> None:
    messages = build_messages(history("my goal", "ok", "next"), system_prompt="SYS", token_budget=1000)
    assert GAP_NOTE not in contents(messages)


def test_the_newest_message_wins_over_the_opening_when_only_one_fits() -> None:
    turns = history("goal " * 300, "fine", "latest " * 300)
    budget = estimate_tokens("SYS") + estimate_tokens("latest " * 300) + 10

    messages = build_messages(turns, system_prompt="SYS", token_budget=budget)

    assert contents(messages)[-1] == "latest " * 300
    assert "goal " * 300 not in contents(messages)


def test_the_newest_message_is_kept_even_when_it_alone_is_too_long() -> None:
    messages = build_messages(history("x y " * 5_000), system_prompt="SYS", token_budget=100)
    assert messages[0]["content"] == "SYS"
    assert messages[1]["role"] == "user"
    assert 0 < estimate_tokens(messages[1]["content"]) <= 100 - estimate_tokens("SYS")


def test_an_overlong_japanese_message_is_cut_to_the_budget_on_whole_characters() -> None:
    text = "目標は来週までに発表を仕上げることです。" * 500

    kept = build_messages(history(text), system_prompt="SYS", token_budget=100)[1]["content"]

    assert 0 < estimate_tokens(kept) <= 100 - estimate_tokens("SYS")
    assert text.endswith(kept)


def test_stored_system_notes_are_not_sent_to_the_model() -> None:
    turns = [
        HistoryMessage("user", "q"),
        HistoryMessage("system", "reply failed"),
        HistoryMessage("user", "q2"),
    ]
    messages = build_messages(turns, system_prompt="SYS", token_budget=1000)
    assert contents(messages) == ["SYS", "q", "q2"]


def test_messages_without_text_are_not_sent_to_the_model() -> None:
    turns = [HistoryMessage("user", ""), HistoryMessage("user", "hello")]
    messages = build_messages(turns, system_prompt="SYS", token_budget=1000)
    assert contents(messages) == ["SYS", "hello"]


def test_the_memory_is_the_second_system_message_and_kept_whole() -> None:
    memory = "Goals: speak up in meetings. Open commitment: ask one question on Friday."
    turns = history("my goal", "a " * 200, "latest")

    messages = build_messages(turns, system_prompt="SYS", token_budget=300, memory_text=memory)

    assert messages[:2] == [{"role": "system", "content": "SYS"}, {"role": "system", "content": memory}]
    assert contents(messages)[-1] == "latest"


def test_a_memory_over_its_share_is_cut_to_it() -> None:
    memory = "goal " * 1_000

    sent = build_messages(history("hi"), system_prompt="SYS", token_budget=400, memory_text=memory)[1]

    assert memory.startswith(sent["content"])
    assert count_tokens(sent["content"]) <= 400 // MEMORY_SHARE


def test_no_memory_no_second_system_message() -> None:
    for memory in (None, "", "  "):
        messages = build_messages(history("hi"), system_prompt="SYS", token_budget=100, memory_text=memory)
        assert contents(messages) == ["SYS", "hi"]


def test_tokens_are_the_models_own_count_for_japanese_and_english() -> None:
    o200k = bpe_openai.get_encoding("o200k_base")
    for text in (
        "今日は会議の準備について話したいです。目標は来週までにプレゼンを完成させることです。",
        "I want to get better at giving feedback to my team without sounding harsh.",
        "Le café est prêt 😀",
    ):
        exact = len(o200k.encode_ordinary(text))
        assert abs(count_tokens(text) - exact) <= exact * 0.10
    # Special-token strings a coach types count as plain text (and never raise).
    assert count_tokens("<|endoftext|>") > 1


def test_a_requests_count_covers_text_parts_and_images() -> None:
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}},
    ]
    messages = [{"role": "system", "content": "SYS"}, {"role": "user", "content": parts}]

    assert (
        estimate_messages_tokens(messages) == estimate_tokens("SYS") + estimate_tokens("look") + IMAGE_TOKENS
    )
