"""Current models and small-context servers, end to end, against the strict fake OpenAI.

Signed Slack events over HTTP into the real app; the app talks to the Slack emulator and the fake
OpenAI (its per-model rules on) over HTTP; SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.llm import CUT_OFF_NOTES
from devkit.fake_openai import FakeOpenAI
from devkit.openai_rules import count_prompt_tokens
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually
from tests.test_coaching_e2e import stored_messages

DM = "D0COACH"


def test_o4_mini_replies_with_max_completion_tokens(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.queue_reply("Let's look at what you can hand over first.")
    with BackgroundServer(settings.with_overrides(openai_model="o4-mini")) as server:
        reply = converse(
            slack_emulator, server, slack_emulator.user_says(channel=DM, text="I can't delegate.")
        )

    assert reply.text == "Let's look at what you can hand over first."
    [request] = fake_openai.requests
    assert request.status == 200 and request.body["model"] == "o4-mini"
    assert request.body["max_completion_tokens"] > 0 and "max_tokens" not in request.body


def test_a_small_context_window_trims_the_history_and_fits_the_reply_limit(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.rules.windows["local-2k"] = (2048, 2048)
    fake_openai.reply = lambda body: "word " * 300
    small = settings.with_overrides(openai_model="local-2k", openai_context_window=2048)
    first = slack_emulator.user_says(channel=DM, text="Turn one.")
    with BackgroundServer(small) as server:
        converse(slack_emulator, server, first)
        for n in range(2, 6):
            follow_up = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text=f"Turn {n}.")
            reply = converse(slack_emulator, server, follow_up)
            assert reply.text.strip().startswith("word")

    assert [r.status for r in fake_openai.requests] == [200] * 5
    last = fake_openai.requests[-1].body
    assert count_prompt_tokens(last) + last["max_tokens"] <= 2048
    sent = [m["content"] for m in last["messages"] if m["role"] == "user"]
    # The opening stays; the oldest turns after it went first.
    assert sent[0] == "Turn one." and sent[-1] == "Turn 5." and "Turn 2." not in sent


def test_a_server_that_names_a_smaller_window_is_answered_from_the_first_turn(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.rules.windows["local-8k"] = (8192, 8192)  # OPENAI_CONTEXT_WINDOW not set
    fake_openai.queue_reply("Fitted.")
    with BackgroundServer(settings.with_overrides(openai_model="local-8k")) as server:
        reply = converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text="Hello"))

    assert reply.text == "Fitted."
    assert [r.status for r in fake_openai.requests] == [400, 400, 200]


def test_a_stream_in_every_form_the_sse_spec_allows_arrives_intact(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.stream_mode = "varied"
    answer = 'First, "notice" what you avoid.\n\n- ünïcode\n- 你好\n' * 4
    fake_openai.queue_reply(answer)

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Where to start?"))

    assert reply.text == answer


@pytest.mark.parametrize("finish_reason", ["length", "content_filter"])
def test_a_reply_the_model_cut_short_says_so_and_is_recorded(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    database_url: str,
    finish_reason: str,
) -> None:
    fake_openai.queue_reply("one two six ten and more")
    fake_openai.cut_next(finish_reason, after_tokens=3)

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Tell me"))

    assert reply.text == "one two six" + CUT_OFF_NOTES[finish_reason]
    assert eventually(lambda: len(stored_messages(database_url)) == 3)
    assert stored_messages(database_url) == [
        ("user", "Tell me"),
        ("assistant", "one two six"),  # the note is ours, not the model's: not sent back to it
        ("system", f"reply cut off: {finish_reason}"),
    ]


def test_a_reasoning_model_that_spent_its_limit_thinking_says_so_instead_of_asking_for_more(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.reasoning_tokens = 100
    with BackgroundServer(settings.with_overrides(openai_model="o4-mini", openai_max_tokens=100)) as server:
        reply = converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text="Plan my week"))

    assert reply.text == CUT_OFF_NOTES["length"].strip()
