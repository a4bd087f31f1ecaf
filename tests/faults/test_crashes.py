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

from bot.coaching import RESTARTED_LEAD_IN, STALE_STREAM_NOTE
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.faults.ledger import SentMessage, audit, sent, settled
from tests.fixtures.replicas import FAST_RECOVERY, Replica, ReplicaLauncher, deliver
from tests.fixtures.waiting import eventually

# About other faults, not Slack's rate tiers (tests/faults/test_slack_faults.py has those).
pytestmark = [pytest.mark.postgres, pytest.mark.slack_rules(rate_limits=False)]

TAKEOVER_DEADLINE_SECONDS = 60.0  # the bound for answering a killed turn
COACHES = 4


def open_streams(slack: SlackEmulator, replica: Replica, prefix: str) -> tuple[list[dict], list[dict]]:
    """COACHES new coaches write to ``replica``; returns (events, bodies) once every reply streams."""
    events = [
        slack.user_says(channel=f"D0{prefix}{n}", user=f"U0{prefix}{n}", text=f"{prefix} coach {n} asks.")
        for n in range(COACHES)
    ]
    bodies = [slack.envelope(event) for event in events]
    for body in bodies:
        assert deliver(slack, body, [replica])[0].status == 200
    for event in events:
        slack.wait_for_replies(event["channel"], event["ts"], count=1, complete=False, timeout=20)
    return events, bodies


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
    events, bodies = open_streams(slack_emulator, doomed, "KILL")
    # Each lease has recorded its open stream (for a takeover to close): the moment to pull the plug.
    assert eventually(lambda: recorded_streams(postgresql_database_url) == COACHES, timeout=10)

    doomed.kill()
    fake_openai.tokens_per_second = 0.0
    for body in bodies[:2]:  # Slack's redelivery of an acked event, to the replica still up
        assert deliver(slack_emulator, body, [survivor], retry_reason="http_error")[0].status == 200

    for event in events:
        replies = slack_emulator.wait_for_replies(
            event["channel"], event["ts"], count=2, timeout=TAKEOVER_DEADLINE_SECONDS
        )
        cut_off, answer = replies
        assert cut_off.text.endswith(STALE_STREAM_NOTE) and not cut_off.streaming
        assert answer.text.startswith(RESTARTED_LEAD_IN) and event["text"] in answer.text
    assert eventually(lambda: settled(postgresql_database_url), timeout=30), "turns still running or owed"
    assert eventually(lambda: survivor.listener_runs() >= 2, timeout=20)  # the redeliveries, handled

    doomed.start()  # back after the crash: it answers new coaches, and owes nothing old
    later = slack_emulator.user_says(channel="D0KILLAFTER", user="U0KILLAFTER", text="After the crash.")
    later_body = slack_emulator.envelope(later)
    assert deliver(slack_emulator, later_body, [doomed])[0].status == 200
    assert eventually(lambda: doomed.listener_runs() >= 1, timeout=20)
    assert eventually(lambda: settled(postgresql_database_url), timeout=30)

    messages: list[SentMessage] = [sent(e, b) for e, b in zip(events, bodies, strict=True)]
    result = audit(slack_emulator, postgresql_database_url, [*messages, sent(later, later_body)])
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
    events, bodies = open_streams(slack_emulator, leaving, "TERM")

    leaving.send_signal(signal.SIGTERM)
    # Sent to the leaving replica while it drains: acked, stored and owed, for the other to answer.
    late = slack_emulator.user_says(channel="D0TERMLATE", user="U0TERMLATE", text="Sent during the deploy.")
    late_body = slack_emulator.envelope(late)
    assert deliver(slack_emulator, late_body, [leaving])[0].status == 200
    assert leaving.wait() == 0

    for event in events:  # finished by the replica that was stopping, in one message each
        (reply,) = slack_emulator.replies_in(event["channel"], event["ts"])
        assert not reply.streaming and event["text"] in reply.text
    fake_openai.tokens_per_second = 0.0
    (answer,) = slack_emulator.wait_for_replies(
        late["channel"], late["ts"], timeout=TAKEOVER_DEADLINE_SECONDS
    )
    assert "Sent during the deploy." in answer.text
    assert eventually(lambda: settled(postgresql_database_url), timeout=30), "turns still running or owed"

    messages = [sent(e, b) for e, b in zip(events, bodies, strict=True)] + [sent(late, late_body)]
    result = audit(slack_emulator, postgresql_database_url, messages)
    assert result.clean, str(result)
    assert staying.alive
