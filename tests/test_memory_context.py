"""What a turn is told of the coach's memory, and which words end a session (small unit tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.conversation.prompt import build_messages, estimate_tokens
from bot.memory.context import render
from bot.memory.service import is_wrap_up_words
from storage.conversations import HistoryMessage
from storage.memory_records import CoachMemory, MemoryItem, MemoryKind

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def item(kind: MemoryKind, text: str, due: date | None = None) -> MemoryItem:
    return MemoryItem(kind, 1, text, "open", NOW, due)


MEMORY = CoachMemory(
    goals=(item(MemoryKind.GOAL, "Delegate the weekly report"),),
    commitments=(item(MemoryKind.COMMITMENT, "Hand the report to Sam", date(2026, 12, 4)),),
    summaries=(item(MemoryKind.SUMMARY, "You planned the hand-over."),),
    remembered=(item(MemoryKind.REMEMBERED, "Prefers short answers"),),
)


@pytest.mark.parametrize(
    "text",
    ["wrap up", "Let's wrap up.", "That's all for now", "that’s all for now, thanks!", "OK, wrap it up"],
)
def test_the_words_that_end_a_session(text: str) -> None:
    assert is_wrap_up_words(text)


@pytest.mark.parametrize(
    "text",
    ["Help me wrap up my project plan", "how do I wrap up a meeting well?", "that's all I have on hiring"],
)
def test_words_that_only_mention_wrapping_up_are_coaching(text: str) -> None:
    assert not is_wrap_up_words(text)


def test_the_memory_names_goals_dated_commitments_remembered_items_and_summaries() -> None:
    text = render(MEMORY, budget=1000)

    assert text is not None
    assert "- Delegate the weekly report" in text
    assert "- Hand the report to Sam (due Friday 2026-12-04)" in text
    assert "- Prefers short answers" in text
    assert "- 2026-12-01: You planned the hand-over." in text


def test_the_memory_keeps_within_its_share_goals_and_commitments_first() -> None:
    long_summary = item(MemoryKind.SUMMARY, "word " * 500)
    memory = CoachMemory(goals=MEMORY.goals, commitments=MEMORY.commitments, summaries=(long_summary,))

    text = render(memory, budget=120)

    assert text is not None and estimate_tokens(text) <= 120 + 8
    assert "Hand the report to Sam" in text and "word word" not in text


def test_the_memory_is_a_second_system_message_and_its_tokens_come_out_of_the_history() -> None:
    history = [
        HistoryMessage("user", "x" * 400),
        HistoryMessage("assistant", "y" * 400),
        HistoryMessage("user", "Hi"),
    ]

    messages = build_messages(history, system_prompt="You coach.", token_budget=150, memory_text="m " * 80)

    assert [m["role"] for m in messages[:2]] == ["system", "system"]
    assert messages[1]["content"].startswith("m m")
    assert messages[-1] == {"role": "user", "content": "Hi"}
    assert len(messages) == 3  # the older turns no longer fit beside the memory
