"""Slack answers 429 while replies stream: slack_sdk waits out Retry-After and every reply completes.

A rate-limited call was not carried out, so its retry must neither double the text nor open a
second message.
"""

from __future__ import annotations

import pytest

from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from tests.faults.ledger import assert_answered_normally, audit, new_coach_message, settled
from tests.fixtures.replicas import ReplicaLauncher
from tests.fixtures.waiting import eventually

COACHES = 8
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
RETRY_AFTER_SECONDS = 1  # Slack's usual answer; slack_sdk waits it out
LIMITED_CALLS = 2  # per method; slack_sdk's rate-limit handler retries a call up to 3 times


def test_slack_rate_limits_while_replying_delay_the_replies_but_every_one_completes(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    database_url: str,
) -> None:
    (replica,) = replicas.start(database_url)
    fake_openai.tokens_per_second = 200  # replies stream over several appendStream calls
    for method in STREAM_METHODS:
        slack_emulator.fail(
            method, error="ratelimited", status=429, retry_after=RETRY_AFTER_SECONDS, times=LIMITED_CALLS
        )
    messages = [new_coach_message(slack_emulator, replica.events_url, f"D0LIMIT{n}") for n in range(COACHES)]

    assert eventually(lambda: replica.listener_runs() >= COACHES, timeout=60)
    assert eventually(lambda: settled(database_url), timeout=30), "turns still running or owed"

    limited = [c for m in STREAM_METHODS for c in slack_emulator.calls_to(m) if c.status == 429]
    assert limited, "Slack answered 429 to some of the stream calls"
    result = audit(slack_emulator, database_url, messages)
    assert result.clean, str(result)
    assert_answered_normally(slack_emulator, messages)  # whole, not "Slack had trouble…"


BURST_COACHES = 30  # more than chat.startStream's Tier 2 allows at once (20, then 20 a minute)


@pytest.mark.postgres
def test_a_burst_beyond_slacks_rate_tiers_still_completes_every_reply(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    postgresql_database_url: str,
) -> None:
    database_url = postgresql_database_url  # about Slack's tiers: one database is enough
    (replica,) = replicas.start(database_url)
    messages = [
        new_coach_message(slack_emulator, replica.events_url, f"D0BURST{n}") for n in range(BURST_COACHES)
    ]

    assert eventually(lambda: replica.listener_runs() >= BURST_COACHES, timeout=90)
    assert eventually(lambda: settled(database_url), timeout=30), "turns still running or owed"

    result = audit(slack_emulator, database_url, messages)
    assert result.clean, str(result)
    assert_answered_normally(slack_emulator, messages)  # whole, not "Slack had trouble…"
