"""A PostgreSQL connection dropped between two uses never reaches the coach.

Between two turns every backend of the app's database is terminated (pg_terminate_backend), or a
PostgreSQL of the test's own is restarted; the next turn gets its normal reply, stored as usual.
"""

from __future__ import annotations

import pytest

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database
from tests.fixtures.app import converse
from tests.fixtures.replicas import PostgresServer, terminate_connections

DM = "D0COACH"
pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgresql_database_url: str) -> str:
    """These faults are PostgreSQL's: the app's settings point at a PostgreSQL database only."""
    return postgresql_database_url


def two_turns_around(
    slack: SlackEmulator, openai: FakeOpenAI, server: BackgroundServer, fault: object
) -> tuple[str, str]:
    """A turn, the fault (a callable), then a follow-up in the same thread: both replies' text."""
    openai.queue_reply("First answer.")
    first = slack.user_says(channel=DM, text="Before the fault.")
    before = converse(slack, server, first)
    assert callable(fault)
    fault()
    openai.queue_reply("Second answer.")
    follow_up = slack.user_says(channel=DM, text="After the fault.", thread_ts=first["ts"])
    after = converse(slack, server, follow_up)
    return before.text, after.text


def test_terminated_backends_between_two_turns_are_invisible_to_the_coach(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings, database_url: str
) -> None:
    with BackgroundServer(settings) as server:

        def kill_every_backend() -> None:
            assert terminate_connections(database_url) > 0, "the app's pool had connections to kill"

        replies = two_turns_around(slack_emulator, fake_openai, server, kill_every_backend)

    assert replies == ("First answer.", "Second answer.")
    follow_up_prompt = fake_openai.requests[-1].body["messages"]
    assert [m["content"] for m in follow_up_prompt if m["role"] == "user"][-2:] == [
        "Before the fault.",
        "After the fault.",
    ]


def test_a_postgresql_restart_between_two_turns_is_invisible_to_the_coach(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    settings: Settings,
    private_postgres: PostgresServer,
) -> None:
    url = private_postgres.create_database()
    upgrade_database(url)
    with BackgroundServer(settings.with_overrides(database_url=url)) as server:
        replies = two_turns_around(slack_emulator, fake_openai, server, private_postgres.restart)

    assert replies == ("First answer.", "Second answer.")
