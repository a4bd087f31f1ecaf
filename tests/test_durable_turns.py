"""A reply owed is answered even when its process dies, and a SIGTERM lets the reply finish.

Real ``coachbot serve`` processes (tests/fixtures/replicas.py) against the Slack emulator and
the fake OpenAI, on SQLite and PostgreSQL. Leases are short here (``TURN_LEASE_SECONDS``) so the
takeover happens in seconds; in production it is within one lease plus one sweep interval.
"""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from bot.conversation.turn_values import RESTARTED_LEAD_IN, STALE_STREAM_NOTE
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.replicas import ReplicaLauncher
from tests.fixtures.waiting import eventually

DM = "D0COACH"
FAST_RECOVERY = {"TURN_LEASE_SECONDS": "3", "RECOVERY_INTERVAL_SECONDS": "1"}
RESTART_DEADLINE_SECONDS = 60.0


def query(database_url: str, sql: str) -> list[tuple]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def owed_state(database_url: str) -> list[tuple]:
    return query(database_url, "SELECT coach_seq, answered_seq, lease_owner FROM coaching_sessions")


def stored(database_url: str) -> list[tuple]:
    return query(database_url, "SELECT message_type, text FROM chat_messages ORDER BY timestamp, id")


def recorded_stream(database_url: str) -> str | None:
    rows = query(database_url, "SELECT lease_stream_ts FROM coaching_sessions")
    return rows[0][0] if rows else None


def test_a_reply_killed_mid_stream_is_answered_after_a_restart_and_its_stream_closed(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, replicas: ReplicaLauncher, database_url: str
) -> None:
    (replica,) = replicas.start(database_url, **FAST_RECOVERY)
    fake_openai.tokens_per_second = 2.0  # a long reply: the process dies while it streams
    event = slack_emulator.user_says(channel=DM, text="Help me prepare my first 1:1s.")
    assert slack_emulator.send_event(replica.events_url, event).status == 200
    # Streaming, and the lease has recorded the open stream: the moment to pull the plug.
    slack_emulator.wait_for_replies(DM, event["ts"], count=1, complete=False, timeout=20)
    stale_ts = eventually(lambda: recorded_stream(database_url), timeout=10)
    assert stale_ts

    replica.kill()
    fake_openai.tokens_per_second = 0.0
    fake_openai.queue_reply("Start by asking what each person needs from you.")
    restarted_at = time.monotonic()
    replica.start()

    replies = slack_emulator.wait_for_replies(DM, event["ts"], count=2, timeout=RESTART_DEADLINE_SECONDS)
    assert time.monotonic() - restarted_at < RESTART_DEADLINE_SECONDS
    cut_off, answer = replies
    assert cut_off.ts == stale_ts and not cut_off.streaming
    assert cut_off.text.endswith(STALE_STREAM_NOTE), "the dead process's stream is closed with a note"
    assert answer.text == RESTARTED_LEAD_IN + "Start by asking what each person needs from you."
    assert eventually(lambda: owed_state(database_url) == [(1, 1, None)], timeout=10)
    assert stored(database_url) == [
        ("user", "Help me prepare my first 1:1s."),
        ("assistant", "Start by asking what each person needs from you."),
    ]
    # Once answered, the sweeps of the restarted process find nothing more to do.
    assert len(fake_openai.requests) == 2


def test_a_turn_killed_while_the_model_thinks_is_answered_after_a_restart(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, replicas: ReplicaLauncher, database_url: str
) -> None:
    (replica,) = replicas.start(database_url, **FAST_RECOVERY)
    fake_openai.ttft = 30.0  # the model is still thinking when the process dies: no stream yet
    event = slack_emulator.user_says(channel=DM, text="How do I say no to my boss?")
    assert slack_emulator.send_event(replica.events_url, event).status == 200
    assert eventually(lambda: len(fake_openai.requests) == 1, timeout=20), "the model was asked"

    replica.kill()
    fake_openai.ttft = 0.0
    fake_openai.queue_reply("Start with what you can say yes to.")
    replica.start()

    (answer,) = slack_emulator.wait_for_replies(DM, event["ts"], count=1, timeout=RESTART_DEADLINE_SECONDS)
    assert answer.text == RESTARTED_LEAD_IN + "Start with what you can say yes to."
    assert len(slack_emulator.calls_to("chat.stopStream")) == 1, "no stale stream to close: the answer's own"
    assert eventually(lambda: owed_state(database_url) == [(1, 1, None)], timeout=10)


def test_sigterm_lets_a_streaming_reply_finish_and_hands_later_messages_to_the_next_process(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, replicas: ReplicaLauncher, database_url: str
) -> None:
    (replica,) = replicas.start(database_url, **FAST_RECOVERY)
    reply = "Let's look at where your week goes. " * 3  # ~27 tokens at 5 a second: ~5 s
    fake_openai.queue_reply(reply)
    fake_openai.tokens_per_second = 5.0
    event = slack_emulator.user_says(channel=DM, text="I never have time to think.")
    assert slack_emulator.send_event(replica.events_url, event).status == 200
    slack_emulator.wait_for_replies(DM, event["ts"], count=1, complete=False, timeout=20)

    replica.send_signal(15)  # SIGTERM, as an orchestrator stops a pod
    # Still acked while draining: stored at once, owed, and left for whoever runs next.
    follow_up = slack_emulator.user_says(channel=DM, thread_ts=event["ts"], text="Even on Mondays.")
    assert slack_emulator.send_event(replica.events_url, follow_up).status == 200
    assert replica.wait() == 0

    (whole,) = slack_emulator.replies_in(DM, event["ts"])
    assert whole.text == reply and not whole.streaming
    assert stored(database_url) == [
        ("user", "I never have time to think."),
        ("assistant", reply),
        ("user", "Even on Mondays."),
    ]
    assert owed_state(database_url) == [(2, 1, None)], "the follow-up is owed, its lease handed back"

    fake_openai.tokens_per_second = 0.0
    fake_openai.queue_reply("What would a protected hour on Monday look like?")
    replica.start()
    replies = slack_emulator.wait_for_replies(DM, event["ts"], count=2, timeout=RESTART_DEADLINE_SECONDS)
    assert replies[1].text == RESTARTED_LEAD_IN + "What would a protected hour on Monday look like?"
    assert eventually(lambda: owed_state(database_url) == [(2, 2, None)], timeout=10)
