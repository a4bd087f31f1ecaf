"""A replica dies under its coaches: SIGKILL mid-reply (a crash, an OOM kill), SIGTERM (a deploy).

Two replicas on one PostgreSQL, as in production. Leases are short here (``TURN_LEASE_SECONDS``)
so the survivor takes the dead one's turns over in seconds; in production within one lease and
one sweep. Slack, having had its acks, may still redeliver some events to the survivor: those are
duplicates and must not be answered again.
"""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import create_engine, text

from bot.conversation.turn_values import RESTARTED_LEAD_IN, STALE_STREAM_NOTE
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.faults.ledger import SentMessage, assert_answered_normally, audit, new_coach_message, settled
from tests.fixtures.replicas import FAST_RECOVERY, Replica, ReplicaLauncher, deliver
from tests.fixtures.waiting import eventually

# About other faults, not Slack's rate tiers (tests/faults/test_slack_faults.py has those).
pytestmark = [pytest.mark.postgres, pytest.mark.slack_rules(rate_limits=False)]

TAKEOVER_DEADLINE_SECONDS = 60.0  # the bound for answering a killed turn
COACHES = 4


def open_streams(slack: SlackEmulator, replica: Replica, prefix: str) -> list[SentMessage]:
    """COACHES new coaches write to ``replica``; returns their messages once every reply streams."""
    messages = [new_coach_message(slack, replica.events_url, f"D0{prefix}{n}") for n in range(COACHES)]
    for message in messages:
        slack.wait_for_replies(message.channel, message.thread_ts, count=1, complete=False, timeout=20)
    return messages


def recorded_streams(database_url: str) -> int:
    """Sessions whose turn's lease has recorded the Slack stream it writes."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM coaching_sessions WHERE lease_stream_ts IS NOT NULL")
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_a_replica_killed_mid_reply_leaves_its_turns_to_the_survivor(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    postgresql_database_url: str,
) -> None:
    doomed, survivor = replicas.start(postgresql_database_url, count=2, **FAST_RECOVERY)
    fake_openai.tokens_per_second = 2.0  # replies stream for a long while: the process dies mid-way
    messages = open_streams(slack_emulator, doomed, "KILL")
    # Each lease has recorded its open stream (for a takeover to close): the moment to pull the plug.
    assert eventually(lambda: recorded_streams(postgresql_database_url) == COACHES, timeout=10)

    doomed.kill()
    fake_openai.tokens_per_second = 0.0
    for message in messages[:2]:  # Slack's redelivery of an acked event, to the replica still up
        assert deliver(slack_emulator, message.body, [survivor], retry_reason="http_error")[0].status == 200

    for message in messages:
        replies = slack_emulator.wait_for_replies(
            message.channel, message.thread_ts, count=2, timeout=TAKEOVER_DEADLINE_SECONDS
        )
        cut_off, answer = replies
        assert cut_off.text.endswith(STALE_STREAM_NOTE) and not cut_off.streaming
        assert answer.text.startswith(RESTARTED_LEAD_IN) and message.text in answer.text
    assert eventually(lambda: settled(postgresql_database_url), timeout=30), "turns still running or owed"
    assert eventually(lambda: survivor.listener_runs() >= 2, timeout=20)  # the redeliveries, handled

    doomed.start()  # back after the crash: it answers new coaches, and owes nothing old
    later = new_coach_message(slack_emulator, doomed.events_url, "D0KILLAFTER")
    assert eventually(lambda: doomed.listener_runs() >= 1, timeout=20)
    assert eventually(lambda: settled(postgresql_database_url), timeout=30)

    result = audit(slack_emulator, postgresql_database_url, [*messages, later])
    assert result.clean, str(result)
    assert len(fake_openai.requests) == 2 * COACHES + 1  # the killed calls, the takeovers, the later one


def test_sigterm_lets_the_replies_in_flight_finish_and_hands_new_messages_to_the_other_replica(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    postgresql_database_url: str,
) -> None:
    leaving, staying = replicas.start(postgresql_database_url, count=2, **FAST_RECOVERY)
    fake_openai.tokens_per_second = 10.0  # ~3 s replies, well inside SHUTDOWN_GRACE_SECONDS
    messages = open_streams(slack_emulator, leaving, "TERM")

    leaving.send_signal(signal.SIGTERM)
    # Sent to the leaving replica while it drains: acked, stored and owed, for the other to answer.
    late = new_coach_message(slack_emulator, leaving.events_url, "D0TERMLATE")
    assert leaving.wait() == 0

    for message in messages:  # finished by the replica that was stopping, in one message each
        (reply,) = slack_emulator.replies_in(message.channel, message.thread_ts)
        assert not reply.streaming and message.text in reply.text
    fake_openai.tokens_per_second = 0.0
    (answer,) = slack_emulator.wait_for_replies(
        late.channel, late.thread_ts, timeout=TAKEOVER_DEADLINE_SECONDS
    )
    assert late.text in answer.text  # (after the note that a restart came between)
    assert eventually(lambda: settled(postgresql_database_url), timeout=30), "turns still running or owed"

    assert_answered_normally(slack_emulator, messages)
    result = audit(slack_emulator, postgresql_database_url, [*messages, late])
    assert result.clean, str(result)
    assert staying.alive
