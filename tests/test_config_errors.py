"""A configuration error is not an outage: the coach is told the bot isn't set up, admins are told.

Over real HTTP: signed events into the app, the app against the Slack emulator and the fake
OpenAI server, on SQLite and PostgreSQL. The fake answers a wrong key with 401 and an
unknown model with 404, as OpenAI does.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.turn_values import NOT_SET_UP_TEXT
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator, SlackError
from tests.fixtures.app import converse, get_json
from tests.fixtures.waiting import eventually
from tests.test_perf_command import block_text, perf

DM = "D0COACH"
WRONG_KEY = "sk-wrong-key-0123456789abcdef"


def dms_to(slack: SlackEmulator, user_id: str) -> list[Any]:
    return [call for call in slack.calls_to("chat.postMessage") if call.args["channel"] == user_id]


def config_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and r.getMessage().startswith("Configuration problem")
    ]


@pytest.fixture
def wrong_key_bot(settings: Settings) -> Iterator[BackgroundServer]:
    with BackgroundServer(settings.with_overrides(openai_api_key=WRONG_KEY)) as server:
        yield server


def test_a_refused_openai_key_tells_the_coach_the_bot_is_not_set_up(
    slack_emulator: SlackEmulator, wrong_key_bot: BackgroundServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    first = converse(slack_emulator, wrong_key_bot, slack_emulator.user_says(channel=DM, text="Hello coach"))
    second = converse(slack_emulator, wrong_key_bot, slack_emulator.user_says(channel=DM, text="Anyone?"))

    assert first.text == second.text == NOT_SET_UP_TEXT
    assert "again in a minute" not in first.text
    errors = config_errors(caplog)
    assert len(errors) == 1  # one ERROR for the problem, not one per turn
    assert "OPENAI_API_KEY" in errors[0] and "401" in errors[0]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert WRONG_KEY not in logged and WRONG_KEY[:12] not in logged
    assert "Hello coach" not in logged


def test_the_refused_key_shows_in_readyz_and_perf(
    slack_emulator: SlackEmulator, wrong_key_bot: BackgroundServer
) -> None:
    converse(slack_emulator, wrong_key_bot, slack_emulator.user_says(channel=DM, text="Hello coach"))

    status, ready = get_json(f"{wrong_key_bot.url}/readyz")
    _, perf = get_json(f"{wrong_key_bot.url}/performance")

    assert status == 503
    assert ready["status"] == "unavailable"
    assert any(reason.startswith("OPENAI_API_KEY:") for reason in ready["reasons"])
    [problem] = perf["config"]["problems"]
    assert problem["setting"] == "OPENAI_API_KEY"
    assert problem["count"] == 1 and problem["since"] == problem["last_seen"]
    with urllib.request.urlopen(f"{wrong_key_bot.url}/metrics", timeout=10) as response:
        assert 'coachbot_config_problems{setting="OPENAI_API_KEY"} 1.0' in response.read().decode()


def test_perf_shows_the_problem_first(slack_emulator: SlackEmulator, wrong_key_bot: BackgroundServer) -> None:
    converse(slack_emulator, wrong_key_bot, slack_emulator.user_says(channel=DM, text="Hello coach"))

    text = block_text(perf(slack_emulator, wrong_key_bot, user_id="U0ADMIN"))

    assert text.index("*Configuration*") < text.index("*Caches*")
    line = ":warning: `OPENAI_API_KEY` OpenAI refused the API key (401 invalid_api_key) · since <!date^"
    assert line in text
    assert "· 1×" in text


def test_a_model_the_server_does_not_know_is_a_setup_problem_until_a_call_works(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.fail_next(404)  # {"code": "model_not_found"}, as OpenAI answers an unknown model

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Plan my week"))
    status, ready = get_json(f"{coachbot.url}/readyz")

    assert reply.text == NOT_SET_UP_TEXT
    assert status == 503
    assert [p["setting"] for p in ready["problems"]] == ["OPENAI_MODEL"]

    fake_openai.queue_reply("Here is a plan.")
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Plan my week again"))

    assert get_json(f"{coachbot.url}/readyz")[0] == 200  # the model answers again: nothing to fix


def test_an_outage_still_says_send_it_again(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.fail_next(503, times=5, retry_after=0.01)

    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hello"))

    assert "again in a minute" in reply.text
    assert get_json(f"{coachbot.url}/readyz")[0] == 200


def test_the_admins_get_one_dm_per_problem(slack_emulator: SlackEmulator, settings: Settings) -> None:
    configured = settings.with_overrides(openai_api_key=WRONG_KEY, perf_admin_ids=frozenset({"U0ADMIN"}))
    with BackgroundServer(configured) as server:
        converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text="One"))
        dms = eventually(lambda: dms_to(slack_emulator, "U0ADMIN"))
        converse(slack_emulator, server, slack_emulator.user_says(channel=DM, text="Two"))

    assert len(dms) == 1
    assert "OPENAI_API_KEY" in dms[0].args["text"]
    assert WRONG_KEY not in dms[0].args["text"]
    assert len(dms_to(slack_emulator, "U0ADMIN")) == 1


def test_a_missing_slack_scope_is_recorded_with_the_scope_it_needs(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(args: dict[str, Any]) -> dict[str, Any]:
        raise SlackError("missing_scope", needed="assistant:write", provided="chat:write,im:history")

    slack_emulator.register("assistant.threads.setStatus", refuse)
    caplog.set_level(logging.INFO)
    thread_ts = slack_emulator.ts()

    reply = converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, thread_ts=thread_ts, text="Hi there")
    )
    status, ready = eventually(lambda: (r := get_json(f"{coachbot.url}/readyz"))[0] == 503 and r)

    assert reply.text  # the reply itself still arrives
    assert status == 503
    scope_reasons = [reason for reason in ready["reasons"] if "assistant:write" in reason]
    assert scope_reasons and scope_reasons[0].startswith("SLACK_BOT_TOKEN:")
    assert any("assistant:write" in line for line in config_errors(caplog))


def test_a_bad_slack_token_is_logged_once_and_shown_by_readyz(
    slack_emulator: SlackEmulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with BackgroundServer(settings.with_overrides(slack_bot_token="xoxb-revoked-token")) as server:
        for text in ("One", "Two"):
            event = slack_emulator.user_says(channel=DM, text=text)
            assert slack_emulator.send_event(server.events_url, event).status == 200
        eventually(lambda: len(slack_emulator.calls_to("auth.test")) >= 2)
        status, ready = get_json(f"{server.url}/readyz")

    assert status == 503
    assert ready["slack"] == "invalid_auth"
    assert any(reason.startswith("SLACK_BOT_TOKEN:") for reason in ready["reasons"])
    errors = config_errors(caplog)
    assert len(errors) == 1 and "SLACK_BOT_TOKEN" in errors[0]
    assert "xoxb-revoked-token" not in "\n".join(record.getMessage() for record in caplog.records)
