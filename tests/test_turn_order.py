"""One turn at a time per session, in Slack's order, for the session's coach only.

Real HTTP throughout: signed events into the app, the app against the Slack emulator and the
fake OpenAI (which records every request it was sent), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from bot.assembly.serve import BackgroundServer
from bot.conversation.bystanders import BYSTANDER_TEXT
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually, wait_until_handled

DM = "D0COACH"
CHANNEL = "C0LEADS"
# ~4 characters a token: the fake's default reply (~90 characters) streams for about 1.5 s.
SLOW_TOKENS_PER_SECOND = 15.0


def stored_in_slack_order(database_url: str) -> list[tuple[str, str]]:
    """The session's messages as the history reads them: by time (Slack's ts), ties by id."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT message_type, text FROM chat_messages ORDER BY timestamp, id")
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()


def owed_state(database_url: str) -> list[tuple[int, int, str | None]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT coach_seq, answered_seq, lease_owner FROM coaching_sessions ORDER BY id")
            )
            return [(row[0], row[1], row[2]) for row in rows]
    finally:
        engine.dispose()


def stream_calls(slack: SlackEmulator, channel: str) -> list[str]:
    return [
        call.method
        for call in slack.calls
        if call.method in ("chat.startStream", "chat.stopStream") and call.args.get("channel") == channel
    ]


def test_three_messages_in_quick_succession_are_answered_one_reply_after_another_in_order(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    fake_openai.tokens_per_second = SLOW_TOKENS_PER_SECOND
    first = slack_emulator.user_says(channel=DM, text="One: my team misses deadlines.")
    assert slack_emulator.send_event(coachbot.events_url, first).status == 200
    for words in ("Two: mostly on Fridays.", "Three: and I lead five people."):
        time.sleep(0.2)  # the coach typing quickly, not a wait for an outcome
        follow_up = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text=words)
        assert slack_emulator.send_event(coachbot.events_url, follow_up).status == 200

    # The two follow-ups arrived while the first reply streamed: one reply answers both after it.
    replies = slack_emulator.wait_for_replies(DM, first["ts"], count=2, timeout=20)
    assert eventually(lambda: owed_state(database_url) == [(3, 3, None)], timeout=10)

    requests = fake_openai.requests
    assert len(requests) == 2
    assert requests[1].received_at >= requests[0].finished_at, "the second model call waited for the first"
    assert stream_calls(slack_emulator, DM) == ["chat.startStream", "chat.stopStream"] * 2
    stored = stored_in_slack_order(database_url)
    assert [body for kind, body in stored if kind == "user"] == [
        "One: my team misses deadlines.",
        "Two: mostly on Fridays.",
        "Three: and I lead five people.",
    ]
    assert [body for kind, body in stored if kind == "assistant"] == [reply.text for reply in replies]
    assert stored[-1] == ("assistant", replies[1].text)
    # The second reply saw everything before it, the whole first reply included, in Slack's order.
    second_prompt = requests[1].body["messages"][1:]
    assert [(m["role"], m["content"]) for m in second_prompt] == stored[:-1]


def test_messages_delivered_out_of_order_are_stored_and_sent_in_slacks_order(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    first = slack_emulator.user_says(channel=DM, text="Help me plan a hard talk.")
    converse(slack_emulator, coachbot, first)
    assert eventually(lambda: owed_state(database_url) == [(1, 1, None)])
    fake_openai.tokens_per_second = SLOW_TOKENS_PER_SECOND
    earlier = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="It is with my boss.")
    later = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="About my promotion.")

    # Slack's first delivery of the earlier message failed; its retry comes after the later one.
    assert slack_emulator.send_event(coachbot.events_url, later).status == 200
    time.sleep(0.2)  # the retry's back-off, not a wait for an outcome
    assert slack_emulator.send_event(coachbot.events_url, earlier, retry_num=1).status == 200

    slack_emulator.wait_for_replies(DM, first["ts"], count=3, timeout=20)
    assert eventually(lambda: owed_state(database_url) == [(3, 3, None)], timeout=10)
    last_prompt = fake_openai.requests[-1].body["messages"]
    assert [m["content"] for m in last_prompt if m["role"] == "user"][-2:] == [
        "It is with my boss.",
        "About my promotion.",
    ]
    users = [body for kind, body in stored_in_slack_order(database_url) if kind == "user"]
    assert users == ["Help me plan a hard talk.", "It is with my boss.", "About my promotion."]


def test_another_member_writing_in_a_coaching_thread_is_neither_answered_nor_stored(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    slack_emulator.add_user("U0PEER", "peer")
    mention = slack_emulator.mention(channel=CHANNEL, text="Coach me on delegating.")
    converse(slack_emulator, coachbot, mention)
    assert eventually(lambda: len(stored_in_slack_order(database_url)) == 2)
    handled = 1

    for words in ("I have thoughts on this too.", "Also, lunch?"):
        peer = slack_emulator.user_says(
            channel=CHANNEL, thread_ts=mention["ts"], text=words, user="U0PEER", channel_type="channel"
        )
        assert slack_emulator.send_event(coachbot.events_url, peer).status == 200
        handled += 1
        wait_until_handled(coachbot.url, handled)
    # Mentioning the bot in the coach's thread doesn't make it theirs either.
    peer_mention = slack_emulator.mention(
        channel=CHANNEL, thread_ts=mention["ts"], text="me too", user="U0PEER"
    )
    assert slack_emulator.send_event(coachbot.events_url, peer_mention).status == 200
    wait_until_handled(coachbot.url, handled + 1)

    assert len(fake_openai.requests) == 1, "no model call for anyone but the coach"
    assert [kind for kind, _ in stored_in_slack_order(database_url)] == ["user", "assistant"]
    notes = slack_emulator.calls_to("chat.postEphemeral")
    assert [(n.args["user"], n.args["thread_ts"], n.args["text"]) for n in notes] == [
        ("U0PEER", mention["ts"], BYSTANDER_TEXT)
    ], "one short note, to them only, once per session"
    assert len(slack_emulator.replies_in(CHANNEL, mention["ts"])) == 1

    # The coach carries on as before.
    coach = slack_emulator.user_says(
        channel=CHANNEL, thread_ts=mention["ts"], text="Where do I start?", channel_type="channel"
    )
    converse(slack_emulator, coachbot, coach)
    assert [m["content"] for m in fake_openai.requests[-1].body["messages"] if m["role"] == "user"] == [
        "Coach me on delegating.",
        "Where do I start?",
    ]
