"""PostgreSQL drops connections: a restart under load, or a connection killed between two uses.

Connections in the replicas' pools die without the pool knowing. A coach writing after the
restart has completed (or after the kill) must not notice: no "I couldn't save that message", no
apology, just the reply. A message caught by the restart itself gets exactly one answer, and is
stored once or, if the coach was told it was not saved, not at all.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Delivery, SlackEmulator
from tests.faults.ledger import SentMessage, assert_answered_normally, audit, new_coach_message, sent, settled
from tests.fixtures.replicas import (
    FAST_RECOVERY,
    PostgresServer,
    Replica,
    ReplicaLauncher,
    listener_runs_across,
    terminate_connections,
)
from tests.fixtures.waiting import eventually

# About other faults, not Slack's rate tiers (tests/faults/test_slack_faults.py has those).
pytestmark = [pytest.mark.postgres, pytest.mark.slack_rules(rate_limits=False)]

LOAD_INTERVAL_SECONDS = 0.05  # 20 new coaches a second, round robin over the replicas
SENT_BEFORE_RESTART = 20
SENT_AFTER_RESTART = 30
MODEL_TTFT_SECONDS = 0.2  # turns are mid-reply when the connections drop


class Load:
    """A steady stream of new coaches' DMs (each its own thread), from a thread of its own."""

    def __init__(self, slack: SlackEmulator, replicas: list[Replica]) -> None:
        self._slack = slack
        self._replicas = replicas
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.messages: list[SentMessage] = []
        self.deliveries: list[Delivery] = []
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            event = self._slack.user_says(channel=f"D0LOAD{n:04d}", user=f"U0LOAD{n:04d}", text=f"Load {n}.")
            body = self._slack.envelope(event)
            delivery = self._slack.send_event(self._replicas[n % len(self._replicas)].events_url, body)
            with self._lock:
                self.messages.append(sent(event, body))
                self.deliveries.append(delivery)
            n += 1
            self._stop.wait(LOAD_INTERVAL_SECONDS)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_a_postgresql_restart_under_load_fails_no_message_sent_after_it(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    private_postgres: PostgresServer,
    private_postgres_url: str,
) -> None:
    pair = replicas.start(private_postgres_url, count=2, **FAST_RECOVERY)  # a turn left owed: seconds
    fake_openai.ttft = MODEL_TTFT_SECONDS

    with Load(slack_emulator, pair) as load:
        assert eventually(lambda: load.count >= SENT_BEFORE_RESTART, timeout=30)
        private_postgres.restart()  # returns once PostgreSQL accepts connections again
        restarted = load.count
        assert eventually(lambda: load.count >= restarted + SENT_AFTER_RESTART, timeout=30)

    assert [d.status for d in load.deliveries if d.status != 200] == []
    assert eventually(lambda: listener_runs_across(pair) >= load.count, timeout=60), (
        f"{listener_runs_across(pair)} of {load.count} deliveries handled"
    )
    assert eventually(lambda: settled(private_postgres_url), timeout=60), "turns still running or owed"
    caught, after = load.messages[: restarted + 1], load.messages[restarted + 1 :]
    assert_answered_normally(slack_emulator, after)
    result = audit(slack_emulator, private_postgres_url, after, lenient=caught)
    assert result.clean, str(result)


def test_the_first_messages_after_a_postgresql_restart_are_answered(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    private_postgres: PostgresServer,
    private_postgres_url: str,
) -> None:
    (replica,) = replicas.start(private_postgres_url)  # its pool is warm, and idle
    private_postgres.restart()  # nothing in flight: no turn notices the connections dying

    messages = [new_coach_message(slack_emulator, replica.events_url, f"D0RESTART{n}") for n in range(6)]
    assert eventually(lambda: replica.listener_runs() >= len(messages), timeout=30)
    assert eventually(lambda: settled(private_postgres_url), timeout=30), "turns still running or owed"

    assert_answered_normally(slack_emulator, messages)
    result = audit(slack_emulator, private_postgres_url, messages)
    assert result.clean, str(result)


def test_connections_killed_between_uses_are_invisible_to_the_coach(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    replicas: ReplicaLauncher,
    postgresql_database_url: str,
) -> None:
    (replica,) = replicas.start(postgresql_database_url)
    messages: list[SentMessage] = []

    assert terminate_connections(postgresql_database_url) >= 1  # the replica's warm pool
    for n in range(3):  # one at a time, each after a kill: each finds its pooled connection dead
        if n:
            terminate_connections(postgresql_database_url)
        messages.append(new_coach_message(slack_emulator, replica.events_url, f"D0KILL{n}"))
        assert eventually(lambda: replica.listener_runs() >= len(messages), timeout=20)
    terminate_connections(postgresql_database_url)
    with ThreadPoolExecutor(max_workers=6) as pool:  # several at once: several dead connections
        channels = [f"D0KILL{n}" for n in range(3, 9)]
        messages.extend(
            pool.map(lambda channel: new_coach_message(slack_emulator, replica.events_url, channel), channels)
        )
    assert eventually(lambda: replica.listener_runs() >= len(messages), timeout=20)
    assert eventually(lambda: settled(postgresql_database_url), timeout=30), "turns still running or owed"

    assert_answered_normally(slack_emulator, messages)
    result = audit(slack_emulator, postgresql_database_url, messages)
    assert result.clean, str(result)
