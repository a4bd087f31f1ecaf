"""A coach in crisis gets care, not coaching: the moderation check runs beside the model call.

Signed Slack events into the real app; the fake OpenAI serves the model and /v1/moderations; the
process's INFO logging is captured as ``coachbot serve`` sets it up. SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import io

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.safety.crisis import DEFAULT_CRISIS_RESOURCES, LATE_LEAD_IN, crisis_text
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

DM = "D0COACH"
WORDS = "quillfeather"  # stands for words of self-harm: the fake flags any message holding it
CARE = crisis_text(DEFAULT_CRISIS_RESOURCES)


def test_a_flagged_message_gets_the_caring_reply_with_the_resources_and_nothing_in_the_logs(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    settings: Settings,
    log_output: io.StringIO,
) -> None:
    fake_openai.moderations.flag_words(WORDS, "self-harm", "self-harm/intent")
    fake_openai.ttft = 0.5  # the check answers first, as it usually does
    fake_openai.queue_reply("Let's set a goal for this week.")
    with BackgroundServer(settings) as server:
        said = slack_emulator.user_says(channel=DM, text=f"I keep thinking about {WORDS}.")

        reply = converse(slack_emulator, server, said)

        assert reply.text == CARE
        assert "emergency" in reply.text and "Employee Assistance Programme" in reply.text
        assert "goal for this week" not in reply.text
        sent = fake_openai.moderations.requests[-1]
        assert sent == {"model": "omni-moderation-latest", "input": said["text"]}
        counted = eventually(lambda: server.runtime.perf.collect("llm")["llm"]["crisis_replies"])
        assert counted == 1  # /perf's OpenAI section and /metrics' coachbot_crisis_replies

    logged = log_output.getvalue().lower()
    for trace in (WORDS, "crisis", "self-harm", "moderation", "caring"):
        assert trace not in logged, [line for line in logged.splitlines() if trace in line]


def test_a_flag_after_the_first_text_stops_the_model_and_ends_the_reply_with_care(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.moderations.flag_words(WORDS, "violence")
    fake_openai.moderations.delay = 0.4
    fake_openai.tokens_per_second = 20  # still streaming when the flag arrives
    full = "Tell me more about what happened at work today and how it felt. " * 5
    fake_openai.queue_reply(full)

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text=f"I could {WORDS}."))

    shown, _, care = reply.text.partition(LATE_LEAD_IN)
    assert shown.startswith("Tell me")
    assert care == CARE
    assert len(shown) < len(full)  # the model was stopped


def test_ordinary_messages_are_coached_as_usual(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.queue_reply("What would a good week look like?")

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="I want focus."))

    assert reply.text == "What would a good week look like?"
    assert fake_openai.moderations.requests == [{"model": "omni-moderation-latest", "input": "I want focus."}]


def test_crisis_resources_are_configurable(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.moderations.flag_next("self-harm")
    fake_openai.ttft = 0.5
    ours = "Call 000 in Australia. Our EAP, Converge: 1300 687 327."
    with BackgroundServer(dataclasses.replace(settings, crisis_resources=ours)) as server:
        reply = converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text="It's too much."))

    assert reply.text == crisis_text(ours)


def test_with_moderation_off_no_check_is_made(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.moderations.flag_words(WORDS, "self-harm")
    fake_openai.queue_reply("Coaching as usual.")
    with BackgroundServer(dataclasses.replace(settings, openai_moderation="off")) as server:
        reply = converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text=f"{WORDS}"))

    assert reply.text == "Coaching as usual."
    assert fake_openai.moderations.requests == []


def test_a_server_without_the_endpoint_turns_the_check_off_with_one_log_line(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    settings: Settings,
    log_output: io.StringIO,
) -> None:
    fake_openai.moderations.available = False
    with BackgroundServer(settings) as server:
        first = slack_emulator.user_says(channel=DM, text="Hello coach.")
        fake_openai.queue_reply("Hello! What's on your mind?")
        assert converse(slack_emulator, server, first).text == "Hello! What's on your mind?"
        fake_openai.moderations.available = True  # the check stays off for the process
        fake_openai.queue_reply("Go on.")
        again = slack_emulator.user_says(channel=DM, text="More.", thread_ts=first["ts"])
        assert converse(slack_emulator, server, again).text == "Go on."

    assert fake_openai.moderations.requests == []
    lines = [line for line in log_output.getvalue().splitlines() if "/v1/moderations" in line]
    assert len(lines) == 1 and "crisis checks are off" in lines[0]
