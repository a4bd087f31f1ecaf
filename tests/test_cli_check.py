"""`coachbot check`, as its own process, against the Slack emulator, the fake OpenAI and moto's S3.

One line per problem, each starting with the setting to change, and exit 1; a short summary
and exit 0 when every part works. The database checks run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.operations.check import MANIFEST_PATH, manifest_bot_scopes
from devkit.fake_openai import FakeOpenAI
from devkit.ports import free_port
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.s3 import FAKE_CREDENTIALS

SETTINGS_NAMES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "DATABASE_URL",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "ATTACHMENTS_DIR",
    "LOG_LEVEL",
    "SLACK_APP_TOKEN",
)


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "coachbot", "check"],
        env={**base, **FAKE_CREDENTIALS, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def services_env(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, moto_endpoint: str, s3_bucket: str
) -> dict[str, str]:
    """Everything but the database, working."""
    scopes = manifest_bot_scopes(MANIFEST_PATH)
    assert scopes
    slack_emulator.scopes = sorted(scopes)
    return {
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": slack_emulator.signing_secret,
        "SLACK_API_URL": slack_emulator.base_url,
        "OPENAI_API_KEY": fake_openai.api_key,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "S3_BUCKET": s3_bucket,
        "S3_ENDPOINT_URL": moto_endpoint,
    }


@pytest.fixture
def good_env(services_env: dict[str, str], database_url: str) -> dict[str, str]:
    """A working configuration, on SQLite and on PostgreSQL."""
    return {**services_env, "DATABASE_URL": database_url}


@pytest.fixture
def sqlite_env(services_env: dict[str, str], sqlite_database_url: str) -> dict[str, str]:
    """A working configuration, for checks the database plays no part in."""
    return {**services_env, "DATABASE_URL": sqlite_database_url}


def test_a_working_configuration_passes_with_a_short_summary(
    good_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    done = run_check(good_env)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok  Slack",
        "ok  Model",
        "ok  Database",
        "ok  Attachments",
    ]
    assert "scopes of manifest.yml granted" in lines[0]
    [probe] = fake_openai.requests
    assert probe.body["max_tokens"] == 1  # a one-token request
    assert good_env["SLACK_BOT_TOKEN"] not in done.stdout + done.stderr


def test_every_broken_part_is_one_line_naming_its_setting(
    services_env: dict[str, str], unmigrated_database_url: str
) -> None:
    env = {
        **services_env,
        "SLACK_BOT_TOKEN": "xoxb-revoked",
        "OPENAI_API_KEY": "sk-wrong-0123456789",
        "DATABASE_URL": unmigrated_database_url,
        "S3_BUCKET": "no-such-bucket-here",
    }

    done = run_check(env)

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "SLACK_BOT_TOKEN",
        "OPENAI_API_KEY",
        "DATABASE_URL",
        "S3_BUCKET",
    ], done.stdout
    assert "invalid_auth" in lines[0]
    assert "401" in lines[1]
    assert "run `coachbot migrate`" in lines[2]
    assert "does not exist" in lines[3]
    assert "Traceback" not in done.stderr
    assert "xoxb-revoked" not in done.stdout + done.stderr
    assert "sk-wrong-0123456789" not in done.stdout + done.stderr


def test_scopes_missing_from_the_installed_app_are_named(
    sqlite_env: dict[str, str], slack_emulator: SlackEmulator
) -> None:
    granted = slack_emulator.scopes or []
    slack_emulator.scopes = [s for s in granted if s not in ("files:write", "reactions:write")]

    done = run_check(sqlite_env)

    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "SLACK_BOT_TOKEN: the Slack app lacks the scopes files:write, reactions:write that manifest.yml "
        "asks for; add them and reinstall the app"
    ]


def test_a_model_the_server_does_not_know(sqlite_env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(404)

    done = run_check({**sqlite_env, "OPENAI_MODEL": "gpt-nonexistent"})

    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith("OPENAI_MODEL: the model server does not know the model gpt-nonexistent")


@pytest.mark.postgres
def test_an_unreachable_postgresql_and_slack_are_named(services_env: dict[str, str]) -> None:
    env = {
        **services_env,
        "DATABASE_URL": f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/coachbot",
        "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/",
    }

    done = run_check(env)

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["SLACK_API_URL", "DATABASE_URL"], done.stdout
    assert "hunter2" not in done.stdout


def test_a_local_attachments_folder_that_cannot_be_written(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {k: v for k, v in sqlite_env.items() if k not in ("S3_BUCKET", "S3_ENDPOINT_URL")}
    folder = blocker / "attachments"

    done = run_check({**env, "ATTACHMENTS_DIR": str(folder)})

    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"ATTACHMENTS_DIR: {folder} cannot be created: {blocker} is a file"]


def test_a_writable_local_folder_passes(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in sqlite_env.items() if k not in ("S3_BUCKET", "S3_ENDPOINT_URL")}

    done = run_check({**env, "ATTACHMENTS_DIR": str(tmp_path)})

    assert done.returncode == 0, done.stdout
    assert f"ok  Attachments: local folder {tmp_path} is writable" in done.stdout


def test_a_socket_mode_token_is_tried_when_set(
    sqlite_env: dict[str, str], slack_emulator: SlackEmulator
) -> None:
    good = run_check({**sqlite_env, "SLACK_APP_TOKEN": slack_emulator.app_token})
    bad = run_check({**sqlite_env, "SLACK_APP_TOKEN": "xapp-not-this-one"})

    assert good.returncode == 0, good.stdout
    assert "ok  Socket Mode: SLACK_APP_TOKEN accepted" in good.stdout
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [
        "SLACK_APP_TOKEN: Slack refused the token (invalid_auth on apps.connections.open)"
    ]
