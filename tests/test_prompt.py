"""The model sees the system prompt and as much recent history as the budget allows."""

from bot.prompt import build_messages, estimate_tokens
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
