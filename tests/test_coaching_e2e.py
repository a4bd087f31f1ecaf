"""Coaching conversations end to end.

Signed Slack requests go over HTTP into the real app; the app talks to the
devkit Slack emulator and the fake OpenAI server over HTTP; the database is
SQLite or PostgreSQL (every test runs on both).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, text

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.mentions import WORD_JOINER
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.app import converse, wait_until_whole
from tests.fixtures.waiting import eventually, wait_until_handled

T = TypeVar("T")
DM = "D0COACH"
CHANNEL = "C0LEADS"


def stored_messages(database_url: str) -> list[tuple[str, str]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT message_type, text FROM chat_messages ORDER BY id"))
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()


def session_count(database_url: str) -> int:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM coaching_sessions")).scalar_one()
    finally:
        engine.dispose()


def user_turns_sent(request_body: dict) -> list[str]:
    return [m["content"] for m in request_body["messages"] if m["role"] == "user"]


def test_first_direct_message_creates_a_session_and_gets_a_streamed_reply(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    fake_openai.queue_reply("Let's start with what matters most to you.")
    event = slack_emulator.user_says(channel=DM, text="I want to delegate better.")

    reply = converse(slack_emulator, coachbot, event)

    assert reply.text == "Let's start with what matters most to you."
    assert reply.thread_ts == event["ts"]
    assert slack_emulator.calls_to("chat.startStream"), "the reply is streamed"
    assert session_count(database_url) == 1
    assert eventually(lambda: len(stored_messages(database_url)) == 2)
    assert stored_messages(database_url) == [
        ("user", "I want to delegate better."),
        ("assistant", "Let's start with what matters most to you."),
    ]


def test_follow_up_in_the_thread_sends_the_earlier_turns_to_the_model(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    first = slack_emulator.user_says(channel=DM, text="My team misses deadlines.")
    converse(slack_emulator, coachbot, first)
    # The reply is stored just after its last Slack call; a person can't type faster than that.
    assert eventually(lambda: [kind for kind, _ in stored_messages(database_url)] == ["user", "assistant"])
    follow_up = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="What should I ask them?")

    converse(slack_emulator, coachbot, follow_up)

    sent = fake_openai.requests[-1].body
    assert sent["messages"][0]["role"] == "system"
    assert user_turns_sent(sent) == ["My team misses deadlines.", "What should I ask them?"]
    assert [m["role"] for m in sent["messages"][1:]] == ["user", "assistant", "user"]


def test_a_second_thread_is_a_separate_session(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Thread one."))
    converse(slack_emulator, coachbot, slack_emulator.mention(channel=CHANNEL, text="Thread two."))

    assert user_turns_sent(fake_openai.requests[-1].body) == ["Thread two."]
    assert session_count(database_url) == 2


def test_history_survives_a_restart(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    first = slack_emulator.user_says(channel=DM, text="Remember: I lead six people.")
    with BackgroundServer(settings) as server:
        converse(slack_emulator, server, first)

    with BackgroundServer(settings) as restarted:
        follow_up = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="How many do I lead?")
        converse(slack_emulator, restarted, follow_up)

    assert user_turns_sent(fake_openai.requests[-1].body) == [
        "Remember: I lead six people.",
        "How many do I lead?",
    ]


def test_a_retried_delivery_gets_exactly_one_reply(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    event = slack_emulator.user_says(channel=DM, text="Only answer me once.")
    envelope_id = "Ev0RETRY"

    first = slack_emulator.send_event(coachbot.events_url, event, event_id=envelope_id)
    retries = [
        slack_emulator.send_event(coachbot.events_url, event, event_id=envelope_id, retry_num=n)
        for n in (1, 2)
    ]
    wait_until_handled(coachbot.url, 3)  # all three deliveries, the two ignored ones included

    assert first.status == 200 and all(r.status == 200 for r in retries)
    assert len(slack_emulator.replies_in(DM, event["ts"])) == 1
    assert len(fake_openai.requests) == 1
    assert eventually(lambda: [kind for kind, _ in stored_messages(database_url)] == ["user", "assistant"])


def test_a_mention_that_is_also_a_thread_message_gets_one_reply(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    opener = slack_emulator.mention(channel=CHANNEL, text="Coach me on hiring.")
    converse(slack_emulator, coachbot, opener)
    mention = slack_emulator.mention(channel=CHANNEL, thread_ts=opener["ts"], text="and onboarding?")
    as_message = dict(mention, type="message", channel_type="channel")

    slack_emulator.send_event(coachbot.events_url, as_message)
    slack_emulator.send_event(coachbot.events_url, mention)
    wait_until_handled(coachbot.url, 3)  # the opener, and both copies of the follow-up

    assert len(slack_emulator.replies_in(CHANNEL, opener["ts"])) == 2
    assert len(fake_openai.requests) == 2


def test_replies_in_a_channel_thread_that_is_not_a_session_are_ignored(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    top = slack_emulator.user_says(channel=CHANNEL, channel_type="channel", text="Lunch?")
    reply = slack_emulator.user_says(channel=CHANNEL, channel_type="channel", thread_ts=top["ts"], text="Yes")

    assert slack_emulator.send_event(coachbot.events_url, reply).status == 200
    wait_until_handled(coachbot.url, 1)

    assert fake_openai.requests == []
    assert session_count(database_url) == 0


def test_bot_messages_and_edits_are_ignored(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    from_a_bot = dict(slack_emulator.user_says(channel=DM, text="beep"), bot_id="B0OTHER")
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": DM,
        "channel_type": "im",
        "ts": slack_emulator.ts(),
        "message": {"type": "message", "user": "U0COACH", "text": "edited", "ts": slack_emulator.ts()},
    }
    for event in (from_a_bot, edit):
        assert slack_emulator.send_event(coachbot.events_url, event).status == 200
    wait_until_handled(coachbot.url, 2)

    assert fake_openai.requests == []


def test_a_bad_signature_is_refused_with_401(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    body = json.dumps(slack_emulator.envelope(slack_emulator.user_says(channel=DM, text="hi"))).encode()

    forged = slack_emulator.post_signed(coachbot.events_url, body, secret="not-the-secret")
    stale = slack_emulator.post_signed(coachbot.events_url, body, timestamp=int(time.time()) - 600)

    assert forged.status == 401
    assert stale.status == 401


def test_a_malformed_body_gets_400_not_a_traceback(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    delivery = slack_emulator.post_signed(coachbot.events_url, b'{"type": "event_callback", ')

    assert delivery.status == 400
    assert b"Traceback" not in delivery.body


def test_a_model_rate_limit_ends_with_a_clear_message_and_the_message_is_kept(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    fake_openai.fail_next(429, times=5, retry_after=0.01)
    event = slack_emulator.user_says(channel=DM, text="Are you there?")

    reply = converse(slack_emulator, coachbot, event)

    assert "too many requests" in reply.text
    assert "saved" in reply.text
    assert ("user", "Are you there?") in stored_messages(database_url)


def test_a_model_timeout_ends_with_a_clear_message_and_the_message_is_kept(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings, database_url: str
) -> None:
    fake_openai.stall_next(3.0, times=5)
    with BackgroundServer(settings.with_overrides(openai_timeout=0.3, openai_max_retries=1)) as server:
        reply = converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text="Hello?"))

    assert "took too long" in reply.text
    assert ("user", "Hello?") in stored_messages(database_url)


def test_model_output_never_pings_anyone(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.queue_reply("Tell <!channel> and <!here>, <!everyone>, <@U0BOSS> and <!subteam^S01|@leads>.")

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Announce it"))

    for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<!subteam"):
        assert ping not in reply.text
    assert f"@{WORD_JOINER}channel" in reply.text


def test_a_45000_character_reply_arrives_whole_in_parts(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    paragraph = "Keep going: small steps compound into big change over time. " * 15 + "\n\n"
    long_reply = (paragraph * 60)[:45_000]
    fake_openai.queue_reply(long_reply)
    event = slack_emulator.user_says(channel=DM, text="Tell me everything.")

    slack_emulator.send_event(coachbot.events_url, event)
    parts = wait_until_whole(slack_emulator, DM, event["ts"], len(long_reply))

    assert len(parts) >= 4
    assert "".join(part.text for part in parts) == long_reply
    assert all(len(part.text) <= 12_000 for part in parts)


def test_the_conversation_never_reads_history_back_from_slack(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    first = slack_emulator.user_says(channel=DM, text="One.")
    converse(slack_emulator, coachbot, first)
    converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="Two.")
    )

    assert [c.method for c in slack_emulator.calls if c.method.startswith("conversations.")] == []


def test_without_slack_streaming_the_reply_is_posted_then_updated(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    slack_emulator.fail("chat.startStream", error="unknown_method", status=200, times=100)
    fake_openai.queue_reply("A reply without streaming, still complete.")

    event = slack_emulator.user_says(channel=DM, text="Hi")
    converse(slack_emulator, coachbot, event)  # posted at once, then edited as the text arrives

    final = "A reply without streaming, still complete."
    assert eventually(lambda: slack_emulator.replies_in(DM, event["ts"])[-1].text == final)
    assert slack_emulator.calls_to("chat.postMessage")
    assert not slack_emulator.calls_to("chat.appendStream")


def test_a_slack_failure_while_replying_ends_with_a_human_message(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    slack_emulator.fail("chat.startStream", error="internal_error", status=200, times=100)
    event = slack_emulator.user_says(channel=DM, text="Still there?")

    slack_emulator.send_event(coachbot.events_url, event)
    replies = slack_emulator.wait_for_replies(DM, event["ts"], count=1)

    assert "trouble" in replies[-1].text
    assert ("user", "Still there?") in stored_messages(database_url)


def test_agent_panel_thread_gets_a_greeting_and_suggested_prompts(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    thread_ts = slack_emulator.ts()
    event = slack_emulator.assistant_thread_started(channel=DM, thread_ts=thread_ts)

    assert slack_emulator.send_event(coachbot.events_url, event).status == 200
    greeting = slack_emulator.wait_for_replies(DM, thread_ts, count=1)

    assert "coachbot" in greeting[0].text
    prompts = eventually(lambda: slack_emulator.calls_to("assistant.threads.setSuggestedPrompts"))
    assert prompts and prompts[0].args["thread_ts"] == thread_ts


def test_health_and_readiness(coachbot: BackgroundServer) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{coachbot.url}/healthz") as health:
        assert json.load(health) == {"status": "ok"}
    with urllib.request.urlopen(f"{coachbot.url}/readyz") as ready:
        assert json.load(ready)["database"] == "ok"


def test_logs_at_info_hold_no_message_text_and_no_tokens(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake_openai.queue_reply("SECRET-REPLY-WORDS are here.")
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="SECRET-COACH-WORDS"))
    fake_openai.fail_next(500, times=5)
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="SECRET-COACH-AGAIN"))

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Turn done session=" in logged
    assert "Model call failed (session=" in logged
    for secret in ("SECRET-", slack_emulator.bot_token, fake_openai.api_key, slack_emulator.signing_secret):
        assert secret not in logged


def test_an_empty_model_reply_still_answers_the_coach(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.queue_reply("")

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="..."))

    assert "say a bit more" in reply.text


def test_a_model_failure_mid_reply_keeps_the_partial_text_and_says_it_was_cut_off(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.tokens_per_second = 20
    fake_openai.queue_reply("word " * 200)
    event = slack_emulator.user_says(channel=DM, text="Go on")
    with BackgroundServer(settings.with_overrides(openai_timeout=5.0)) as server:
        slack_emulator.send_event(server.events_url, event)
        eventually(lambda: slack_emulator.replies_in(DM, event["ts"]))
        fake_openai.stop()  # the model goes away mid-stream
        reply = slack_emulator.wait_for_replies(DM, event["ts"], count=1, timeout=15)[-1]

    assert reply.text.startswith("word word")
    assert "cut off" in reply.text


def test_a_transient_model_error_is_retried_and_the_coach_never_notices(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.fail_next(503, times=1, retry_after=0.01)
    fake_openai.queue_reply("Here after one retry.")

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hi"))

    assert reply.text == "Here after one retry."
    assert [r.status for r in fake_openai.requests] == [503, 200]


def test_slack_rate_limits_are_retried_by_the_sdk(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    slack_emulator.fail("chat.stopStream", error="ratelimited", status=429, retry_after=0, times=1)
    fake_openai.queue_reply("Posted after Slack's rate limit.")

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hi"))

    assert reply.text == "Posted after Slack's rate limit."
    assert [call.status for call in slack_emulator.calls_to("chat.stopStream")] == [429, 200]


def test_a_message_without_text_gets_a_gentle_note_and_no_model_call(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    event = dict(slack_emulator.user_says(channel=DM, text=""), subtype="file_share", files=[{"id": "F0"}])

    reply = converse(slack_emulator, coachbot, event)

    assert "only read text" in reply.text
    assert fake_openai.requests == []


def test_a_changed_panel_context_is_acknowledged_without_reading_slack(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    event = {
        "type": "assistant_thread_context_changed",
        "assistant_thread": {
            "user_id": "U0COACH",
            "channel_id": DM,
            "thread_ts": slack_emulator.ts(),
            "context": {"channel_id": CHANNEL, "team_id": slack_emulator.team_id},
        },
        "event_ts": slack_emulator.ts(),
    }

    assert slack_emulator.send_event(coachbot.events_url, event).status == 200
    wait_until_handled(coachbot.url, 1)

    assert [c.method for c in slack_emulator.calls if c.method.startswith(("conversations.", "chat."))] == []
