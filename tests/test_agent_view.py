"""The agent view: the greeting and prompts when a coach opens the Messages tab, and "is thinking…"
on every surface.

Signed events go over HTTP into the real app (``/slack/events``), which answers through the
Slack emulator; every test runs on SQLite and PostgreSQL (the greeting is claimed in the database).
"""

from __future__ import annotations

from typing import Any

from bot.assembly.serve import BackgroundServer
from bot.conversation.agent_panel import GREETING, SUGGESTED_PROMPTS
from bot.conversation.coaching import THINKING_STATUS
from devkit import payloads
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Message, SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

DM = "D0COACH"
CHANNEL = "C0LEADS"
COACH = "U0COACH"


def open_messages_tab(slack: SlackEmulator, *, user: str = COACH, tab: str = "messages") -> dict[str, Any]:
    return payloads.app_home_opened_event(user=user, channel=DM, tab=tab, event_ts=slack.ts())


def greetings_in_dm(slack: SlackEmulator) -> list[Message]:
    return [m for m in slack.messages(DM) if m.is_bot and m.text == GREETING]


def prompts_set(slack: SlackEmulator, count: int) -> list[Any]:
    """The setSuggestedPrompts calls, once there are ``count`` of them."""
    calls = eventually(lambda: len(slack.calls_to("assistant.threads.setSuggestedPrompts")) >= count)
    assert calls, f"expected {count} setSuggestedPrompts calls"
    return slack.calls_to("assistant.threads.setSuggestedPrompts")


def test_opening_the_messages_tab_greets_a_new_coach_and_sets_prompts_without_a_thread(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    delivery = slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator))

    assert delivery.status == 200
    [prompts] = prompts_set(slack_emulator, 1)
    assert prompts.args["channel_id"] == DM
    assert "thread_ts" not in prompts.args, "with a thread_ts Slack drops the prompts in the agent view"
    assert prompts.args["prompts"] == SUGGESTED_PROMPTS
    [greeting] = greetings_in_dm(slack_emulator)
    assert greeting.thread_ts is None, "the greeting is a message in the DM, not in a thread"


def test_opening_the_tab_again_sets_the_prompts_again_but_does_not_greet_twice(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator))
    prompts_set(slack_emulator, 1)

    slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator))

    prompts_set(slack_emulator, 2)
    assert len(greetings_in_dm(slack_emulator)) == 1


def test_a_retried_delivery_of_the_open_greets_once(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    body = slack_emulator.envelope(open_messages_tab(slack_emulator))

    slack_emulator.send_event(coachbot.events_url, body)
    slack_emulator.send_event(coachbot.events_url, body, retry_num=1)

    prompts_set(slack_emulator, 2)  # both deliveries handled: the prompts come after the greeting
    assert len(greetings_in_dm(slack_emulator)) == 1


def test_a_coach_who_has_coached_here_gets_the_prompts_without_a_greeting(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Help me delegate."))

    slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator))

    prompts_set(slack_emulator, 1)
    assert greetings_in_dm(slack_emulator) == []


def test_each_coach_is_greeted_once(slack_emulator: SlackEmulator, coachbot: BackgroundServer) -> None:
    slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator, user="U0ADA"))
    slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator, user="U0GRACE"))

    prompts_set(slack_emulator, 2)
    assert len(greetings_in_dm(slack_emulator)) == 2


def test_an_older_assistant_view_thread_after_the_open_is_not_greeted_twice(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator))
    prompts_set(slack_emulator, 1)
    thread_ts = slack_emulator.ts()

    slack_emulator.send_event(
        coachbot.events_url, slack_emulator.assistant_thread_started(channel=DM, thread_ts=thread_ts)
    )

    in_thread = prompts_set(slack_emulator, 2)[-1]
    assert in_thread.args["thread_ts"] == thread_ts, "the older assistant view needs the thread"
    assert len(greetings_in_dm(slack_emulator)) == 1
    assert slack_emulator.replies_in(DM, thread_ts) == []


def test_opening_the_home_tab_publishes_the_home_and_leaves_the_messages_tab_alone(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    delivery = slack_emulator.send_event(coachbot.events_url, open_messages_tab(slack_emulator, tab="home"))

    assert delivery.status == 200
    assert eventually(lambda: slack_emulator.calls_to("views.publish")), "the Home tab gets the coach's Home"
    assert slack_emulator.calls_to("chat.postMessage") == []
    assert slack_emulator.calls_to("assistant.threads.setSuggestedPrompts") == []


# ----------------------------------------------------------------------------------- "is thinking…"


def assert_thinking_shown_before_the_reply(slack: SlackEmulator, channel: str, thread_ts: str) -> None:
    statuses = [
        call
        for call in slack.calls_to("assistant.threads.setStatus")
        if call.args["channel_id"] == channel and call.args["thread_ts"] == thread_ts
    ]
    assert [call.args["status"] for call in statuses] == [THINKING_STATUS]
    first_reply = next(
        call
        for call in slack.calls
        if call.method in {"chat.startStream", "chat.postMessage"} and call.args.get("thread_ts") == thread_ts
    )
    assert slack.calls.index(statuses[0]) < slack.calls.index(first_reply), "shown before the reply starts"


def test_thinking_shows_in_a_new_direct_message_thread(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.queue_reply("Let's look at that.")
    event = slack_emulator.user_says(channel=DM, text="I keep putting off a hard talk.")

    converse(slack_emulator, coachbot, event)

    assert_thinking_shown_before_the_reply(slack_emulator, DM, event["ts"])
    [title] = slack_emulator.calls_to("assistant.threads.setTitle")
    assert title.args["thread_ts"] == event["ts"]


def test_thinking_shows_in_an_agent_view_thread(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    thread_ts = slack_emulator.ts()
    event = slack_emulator.user_says(channel=DM, thread_ts=thread_ts, text="Plan my quarter")

    converse(slack_emulator, coachbot, event)

    assert_thinking_shown_before_the_reply(slack_emulator, DM, thread_ts)


def test_thinking_shows_in_a_channel_thread_for_a_mention_and_a_follow_up(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    mention = slack_emulator.mention(channel=CHANNEL, text="<@U0BOT> help me run better 1:1s")
    converse(slack_emulator, coachbot, mention)
    follow_up = slack_emulator.user_says(
        channel=CHANNEL, thread_ts=mention["ts"], text="And with a remote team?", channel_type="channel"
    )

    converse(slack_emulator, coachbot, follow_up)

    statuses = slack_emulator.calls_to("assistant.threads.setStatus")
    assert [(c.args["channel_id"], c.args["thread_ts"]) for c in statuses] == [(CHANNEL, mention["ts"])] * 2
    assert slack_emulator.calls_to("assistant.threads.setTitle") == [], "channel threads have no title"
