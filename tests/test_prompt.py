"""The model sees the system prompt and as much recent history as the budget allows."""

from bot.conversation.prompt import IMAGE_TOKENS, build_messages, estimate_messages_tokens, estimate_tokens
from storage.conversations import HistoryMessage


def history(*texts: str) -> list[HistoryMessage]:
    roles = ["user", "assistant"]
    return [HistoryMessage(role=roles[i % 2], text=t) for i, t in enumerate(texts)]


def test_system_prompt_comes_first_and_history_follows_in_order() -> None:
    messages = build_messages(history("hi", "hello", "help me"), system_prompt="SYS", token_budget=1000)
    assert messages[0] == {"role": "system", "content": "SYS"}
    assert [m["content"] for m in messages[1:]] == ["hi", "hello", "help me"]


def test_oldest_turns_are_dropped_first_when_over_budget() -> None:
    turns = history("a" * 400, "b" * 400, "c" * 400, "latest")
    budget = estimate_tokens("SYS") + estimate_tokens("c" * 400) + estimate_tokens("latest")
    messages = build_messages(turns, system_prompt="SYS", token_budget=budget)
    assert [m["content"][:1] for m in messages] == ["S", "c", "l"]


def test_the_newest_message_is_kept_even_when_it_alone_is_too_long() -> None:
    messages = build_messages(history("x" * 10_000), system_prompt="SYS", token_budget=100)
    assert messages[0]["content"] == "SYS"
    assert messages[1]["role"] == "user"
    assert 0 < len(messages[1]["content"]) < 10_000


def test_stored_system_notes_are_not_sent_to_the_model() -> None:
    turns = [
        HistoryMessage("user", "q"),
        HistoryMessage("system", "reply failed"),
        HistoryMessage("user", "q2"),
    ]
    messages = build_messages(turns, system_prompt="SYS", token_budget=1000)
    assert [m["content"] for m in messages] == ["SYS", "q", "q2"]


def test_messages_without_text_are_not_sent_to_the_model() -> None:
    turns = [HistoryMessage("user", ""), HistoryMessage("user", "hello")]
    messages = build_messages(turns, system_prompt="SYS", token_budget=1000)
    assert [m["content"] for m in messages] == ["SYS", "hello"]


def test_non_ascii_text_counts_a_token_a_character() -> None:
    assert estimate_tokens("你好世界，我们开始吧") == 10 + estimate_tokens("")
    assert estimate_tokens("abcd" * 10) == 10 + estimate_tokens("")
    assert estimate_tokens("café") == 1 + 1 + estimate_tokens("")  # "caf" and "é"


def test_cjk_history_is_trimmed_at_a_token_a_character() -> None:
    turns = history("你" * 400, "好" * 400, "最新的问题")
    budget = estimate_tokens("SYS") + estimate_tokens("好" * 400) + estimate_tokens("最新的问题")

    messages = build_messages(turns, system_prompt="SYS", token_budget=budget)

    assert [m["content"][:1] for m in messages] == ["S", "好", "最"]


def test_an_overlong_cjk_message_is_cut_to_the_budget() -> None:
    messages = build_messages(history("字" * 10_000), system_prompt="SYS", token_budget=100)

    assert 0 < estimate_tokens(messages[1]["content"]) <= 100 - estimate_tokens("SYS")


def test_a_requests_estimate_counts_text_parts_and_images() -> None:
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}},
    ]
    messages = [{"role": "system", "content": "SYS"}, {"role": "user", "content": parts}]

    assert (
        estimate_messages_tokens(messages) == estimate_tokens("SYS") + estimate_tokens("look") + IMAGE_TOKENS
    )
