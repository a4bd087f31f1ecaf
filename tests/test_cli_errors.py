"""Settings that cannot work end `coachbot serve` with one line, never a traceback; --version works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.ports import free_port
from devkit.slack_emulator import SlackEmulator
from storage.migrate import head_revision

NAMES = ("DATABASE_URL", "LOG_LEVEL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REPORT_TIMEZONE")


def coachbot(*args: str, env: dict[str, str], module: str = "coachbot") -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in NAMES}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def serve_env(slack_emulator: SlackEmulator, tmp_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": slack_emulator.signing_secret,
        "SLACK_API_URL": slack_emulator.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'coachbot.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("coachbot: error: ")
    return lines[0].removeprefix("coachbot: error: ")


def test_a_bad_log_level(serve_env: dict[str, str]) -> None:
    done = coachbot("serve", env={**serve_env, "LOG_LEVEL": "loud"})

    assert done.returncode == 2
    expected = "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"
    assert one_error_line(done) == expected


def test_an_unsupported_database_url_never_shows_its_password(serve_env: dict[str, str]) -> None:
    done = coachbot("serve", env={**serve_env, "DATABASE_URL": "mysql://coach:hunter2@db.example/coachbot"})

    assert done.returncode == 2
    expected = "DATABASE_URL: unsupported database URL scheme 'mysql'; use sqlite or postgresql"
    assert one_error_line(done) == expected
    assert "hunter2" not in done.stderr


@pytest.mark.postgres
@pytest.mark.parametrize("flags", [(), ("--no-migrate",)], ids=["migrating", "no-migrate"])
def test_an_unreachable_postgresql(serve_env: dict[str, str], flags: tuple[str, ...]) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/coachbot"

    done = coachbot("serve", *flags, env={**serve_env, "DATABASE_URL": url})

    assert done.returncode == 1
    line = one_error_line(done)
    assert line.startswith("DATABASE_URL: cannot use postgresql://postgres:***@127.0.0.1:")
    assert "Connection refused" in line or "connection failed" in line
    assert "hunter2" not in done.stderr


def test_no_migrate_on_an_old_database(serve_env: dict[str, str], unmigrated_database_url: str) -> None:
    done = coachbot("serve", "--no-migrate", env={**serve_env, "DATABASE_URL": unmigrated_database_url})

    assert done.returncode == 2
    assert one_error_line(done) == (
        f"DATABASE_URL: the database is at revision none, this code needs {head_revision()}; "
        "run `coachbot migrate` (or serve without --no-migrate)"
    )


def test_a_missing_signing_secret(serve_env: dict[str, str]) -> None:
    env = {k: v for k, v in serve_env.items() if k != "SLACK_SIGNING_SECRET"}

    done = coachbot("serve", env=env)

    assert done.returncode == 2
    assert one_error_line(done) == "SLACK_SIGNING_SECRET is not set; coachbot serve needs it"


def test_a_bad_report_timezone(serve_env: dict[str, str]) -> None:
    done = coachbot("serve", env={**serve_env, "REPORT_TIMEZONE": "Mars/Olympus"})

    assert done.returncode == 2
    assert one_error_line(done) == "REPORT_TIMEZONE 'Mars/Olympus' is not a known timezone"


@pytest.mark.parametrize("module", ["coachbot", "bot.assembly.cli"])
def test_version(module: str) -> None:
    done = coachbot("--version", env={}, module=module)

    assert done.returncode == 0
    assert done.stdout.strip() == "coachbot 0.1.0"
