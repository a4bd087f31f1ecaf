"""A PostgreSQL connection dropped between two uses never reaches the coach.

Between two turns every backend of the app's database is terminated (pg_terminate_backend), or a
PostgreSQL of the test's own is restarted; the next turn gets its normal reply, stored as usual.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bot.config import Settings
from bot.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database
from tests.fixtures.app import converse

DM = "D0COACH"
pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgresql_database_url: str) -> str:
    """These faults are PostgreSQL's: the app's settings point at a PostgreSQL database only."""
    return postgresql_database_url


def terminate_backends(database_url: str) -> int:
    """pg_terminate_backend for every other connection to this database; how many there were."""
    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


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
            assert terminate_backends(database_url) > 0, "the app's pool had connections to kill"

        replies = two_turns_around(slack_emulator, fake_openai, server, kill_every_backend)

    assert replies == ("First answer.", "Second answer.")
    follow_up_prompt = fake_openai.requests[-1].body["messages"]
    assert [m["content"] for m in follow_up_prompt if m["role"] == "user"][-2:] == [
        "Before the fault.",
        "After the fault.",
    ]


# --------------------------------------------------------------------- a private PostgreSQL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """A cluster of this test's own (never the shared one on 5432), to restart at will."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = found[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="coachbot-pg-"))
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{argv[0]} failed: {done.stderr}"

    def start(self) -> None:
        data = self.root / "data"
        if not data.exists():
            self.run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        options += " -c fsync=off"
        self.run("pg_ctl", "-D", str(data), "-l", str(self.root / "log"), "-o", options, "-w", "start")

    def restart(self) -> None:
        """Every connection dropped; returns once the server accepts connections again."""
        self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self) -> str:
        name = f"coachbot_r_{secrets.token_hex(4)}"
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def test_a_postgresql_restart_between_two_turns_is_invisible_to_the_coach(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    settings: Settings,
    private_postgres: PrivatePostgres,
) -> None:
    url = private_postgres.new_database()
    upgrade_database(url)
    with BackgroundServer(settings.with_overrides(database_url=url)) as server:
        replies = two_turns_around(slack_emulator, fake_openai, server, private_postgres.restart)

    assert replies == ("First answer.", "Second answer.")
