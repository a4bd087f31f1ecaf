"""/readyz: 503 with the reasons whenever the app cannot coach; /healthz: the process is up.

The real app over HTTP against the Slack emulator, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.operations.health import ConfigHealth
from bot.operations.readiness import Readiness
from devkit.ports import free_port
from devkit.slack_emulator import SlackEmulator
from storage.engine import create_db_engine
from tests.fixtures.app import get_json
from tests.fixtures.clock import FakeClock


def readyz_with(settings: Settings) -> tuple[int, dict[str, Any], int]:
    """(/readyz status, body, /healthz status) of the app started with ``settings``."""
    with BackgroundServer(settings) as server:
        status, body = get_json(f"{server.url}/readyz")
        health, _ = get_json(f"{server.url}/healthz")
    return status, body, health


def test_a_working_configuration_is_ready(settings: Settings) -> None:
    status, body, health = readyz_with(settings)

    assert (status, health) == (200, 200)
    assert body == {"status": "ready", "database": "ok", "slack": "ok", "openai": "ok"}


def test_a_bad_slack_token_is_not_ready(settings: Settings) -> None:
    status, body, health = readyz_with(settings.with_overrides(slack_bot_token="xoxb-not-this-one"))

    assert (status, health) == (503, 200)
    assert body["slack"] == "invalid_auth"
    assert body["reasons"] == ["SLACK_BOT_TOKEN: Slack refused the token (invalid_auth on auth.test)"]


def test_an_unreachable_slack_is_not_ready(settings: Settings) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"

    status, body, _ = readyz_with(settings.with_overrides(slack_api_url=nowhere))

    assert status == 503
    assert body["slack"].startswith("unreachable")
    assert any(reason.startswith("Slack: auth.test failed (unreachable") for reason in body["reasons"])


def test_no_openai_key_is_not_ready(settings: Settings) -> None:
    status, body, _ = readyz_with(settings.with_overrides(openai_api_key=""))

    assert status == 503
    assert body["openai"] == "OPENAI_API_KEY is not set"
    assert body["reasons"] == ["OPENAI_API_KEY is not set"]


def test_slack_is_asked_once_per_cache_period(slack_emulator: SlackEmulator, settings: Settings) -> None:
    with BackgroundServer(settings) as server:
        for _ in range(5):
            assert get_json(f"{server.url}/readyz")[0] == 200

    assert len(slack_emulator.calls_to("auth.test")) == 1


async def test_the_slack_answer_is_refreshed_after_the_cache_period(
    slack_emulator: SlackEmulator, settings: Settings, clock: FakeClock
) -> None:
    engine = create_db_engine(settings.database_url)
    readiness = Readiness(settings, engine=engine, health=ConfigHealth(), session=None, clock=clock)
    try:
        assert (await readiness.check())[0]
        slack_emulator.fail("auth.test", error="account_inactive", status=200)
        assert (await readiness.check())[0]  # still the cached answer
        clock.advance(16)
        ready, body = await readiness.check()
    finally:
        await engine.dispose()

    assert not ready
    assert body["slack"] == "account_inactive"
    assert len(slack_emulator.calls_to("auth.test")) == 2


async def test_a_database_that_does_not_answer_is_not_ready(slack_emulator: SlackEmulator) -> None:
    settings = Settings(
        slack_bot_token=slack_emulator.bot_token, slack_api_url=slack_emulator.base_url, openai_api_key="sk-x"
    )
    engine = create_db_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/coachbot")
    readiness = Readiness(settings, engine=engine, health=ConfigHealth(), session=None)
    try:
        ready, body = await readiness.check()
    finally:
        await engine.dispose()

    assert not ready
    assert body["database"].startswith("unreachable")
    assert body["reasons"][0].startswith("DATABASE_URL: the database does not answer")
