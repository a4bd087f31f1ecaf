"""Slack redelivers: every event 1-4 times, to either of two replicas, at once or as later retries.

Slack retries an event it thinks went unanswered (``X-Slack-Retry-Num``), and with several
replicas behind the request URL the copies land anywhere, sometimes while the first is still
being handled. Each coach must still get exactly one reply, and the tables exactly one copy.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Delivery, SlackEmulator
from tests.faults.ledger import SentMessage, audit, sent, settled
from tests.fixtures.replicas import Replica, ReplicaLauncher, listener_runs_across
from tests.fixtures.waiting import eventually

# About deliveries, not Slack's rate tiers (tests/faults/test_slack_faults.py has those).
pytestmark = [pytest.mark.postgres, pytest.mark.slack_rules(rate_limits=False)]

EVENTS = 200
SEED = 20261201
SPREAD_SECONDS = 4.0  # first deliveries over this long: ~50 new events a second
RETRY_GAP_SECONDS = (0.05, 1.0)  # a later delivery's wait after the one before, when not at once


@dataclass(frozen=True)
class Send:
    """One delivery of one event: when (seconds after the storm starts), where, which retry."""

    at: float
    event: int
    retry_num: int | None
    replica: Replica


def storm_plan(rng: random.Random, replicas: list[Replica]) -> list[Send]:
    """Each event 1-4 times to random replicas; each copy after it at once or after a gap."""
    plan = []
    for event in range(EVENTS):
        at = rng.uniform(0.0, SPREAD_SECONDS)
        for attempt in range(rng.randint(1, 4)):
            if attempt and rng.random() >= 0.4:  # 40 % of the copies race the one before
                at += rng.uniform(*RETRY_GAP_SECONDS)
            plan.append(Send(at, event, attempt or None, rng.choice(replicas)))
    return sorted(plan, key=lambda send: send.at)


def test_200_events_each_delivered_1_to_4_times_across_2_replicas_get_200_replies(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    postgresql_database_url: str,
) -> None:
    pair = replicas.start(postgresql_database_url, count=2)
    rng = random.Random(SEED)
    events = [
        slack_emulator.user_says(
            channel=f"D0F{n:04d}", user=f"U0F{n:04d}", text=f"Coach {n} asks about {n * 7}."
        )
        for n in range(EVENTS)
    ]
    bodies = [slack_emulator.envelope(event) for event in events]
    plan = storm_plan(rng, pair)
    started = time.monotonic()

    def deliver(send: Send) -> Delivery:
        time.sleep(max(0.0, started + send.at - time.monotonic()))  # pacing the storm
        return slack_emulator.send_event(
            send.replica.events_url, bodies[send.event], retry_num=send.retry_num
        )

    with ThreadPoolExecutor(max_workers=64) as pool:
        deliveries = list(pool.map(deliver, plan))

    assert [d.status for d in deliveries if d.status != 200] == []
    assert eventually(lambda: listener_runs_across(pair) >= len(plan), timeout=90), (
        f"{listener_runs_across(pair)} of {len(plan)} deliveries handled"
    )
    messages: list[SentMessage] = [sent(event, body) for event, body in zip(events, bodies, strict=True)]
    assert eventually(lambda: settled(postgresql_database_url), timeout=60), "turns still running or owed"
    result = audit(slack_emulator, postgresql_database_url, messages)
    assert result.clean, str(result)
    assert len(fake_openai.requests) == EVENTS  # one model call per event, however often it came
    for event in events:
        (reply,) = slack_emulator.replies_in(event["channel"], event["ts"])
        assert event["text"] in reply.text  # each coach's reply answers that coach's message
