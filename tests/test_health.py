"""The configuration-problem record and the error classification behind it (small unit tests)."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import openai
import pytest

from bot.conversation.turn_values import NOT_SET_UP_TEXT, failure_text
from bot.operations.config_errors import method_of, openai_problem, slack_problem
from bot.operations.health import ConfigHealth, ConfigProblem
from tests.fixtures.clock import FakeClock

KEY = ConfigProblem("openai", "OPENAI_API_KEY", "401 invalid_api_key", "OpenAI refused the API key")


def status_error(cls: type[openai.APIStatusError], status: int, **body: Any) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    message = "Incorrect API key provided: sk-abc***xyz"  # OpenAI quotes part of the key
    return cls(message, response=httpx2.Response(status, request=request), body=body)


@pytest.mark.parametrize(
    ("error", "setting"),
    [
        (status_error(openai.AuthenticationError, 401, code="invalid_api_key"), "OPENAI_API_KEY"),
        (status_error(openai.PermissionDeniedError, 403), "OPENAI_API_KEY"),
        (status_error(openai.NotFoundError, 404, code="model_not_found"), "OPENAI_MODEL"),
        (status_error(openai.NotFoundError, 404), "OPENAI_BASE_URL"),
        (status_error(openai.BadRequestError, 400, code="context_length_exceeded"), "CONTEXT_TOKEN_BUDGET"),
        (
            status_error(openai.BadRequestError, 400, code="unsupported_parameter", param="max_tokens"),
            "OPENAI_TOKEN_PARAMETER",
        ),
        (
            status_error(openai.BadRequestError, 400, code="invalid_value", param="max_tokens"),
            "OPENAI_MAX_TOKENS",
        ),
        (status_error(openai.BadRequestError, 400, code="invalid_image_format"), "OPENAI_VISION"),
        (status_error(openai.BadRequestError, 400), "OPENAI_MODEL"),
    ],
)
def test_openai_configuration_errors_name_their_setting(error: openai.APIStatusError, setting: str) -> None:
    problem = openai_problem(error, model="gpt-test")

    assert problem is not None and problem.setting == setting
    assert "sk-abc" not in problem.line()  # never the error's own text
    assert failure_text(error) == NOT_SET_UP_TEXT


@pytest.mark.parametrize("status", [429, 500, 503])
def test_outages_are_not_configuration_errors(status: int) -> None:
    error = status_error(openai.APIStatusError, status)

    assert openai_problem(error) is None
    assert "again in a minute" in failure_text(error)


def test_slack_token_and_scope_errors() -> None:
    token = slack_problem("chat.postMessage", {"ok": False, "error": "token_revoked"})
    app_token = slack_problem("apps.connections.open", {"ok": False, "error": "invalid_auth"})
    scope = slack_problem("files.info", {"ok": False, "error": "missing_scope", "needed": "files:read"})

    assert token is not None and token.setting == "SLACK_BOT_TOKEN"
    assert app_token is not None and app_token.setting == "SLACK_APP_TOKEN"
    assert scope is not None and scope.code == "missing_scope files:read" and "files:read" in scope.reason
    assert slack_problem("chat.update", {"ok": False, "error": "message_not_found"}) is None
    assert slack_problem("auth.test", {"ok": True}) is None
    assert method_of("http://127.0.0.1:9/api/chat.postMessage?x=1") == "chat.postMessage"


def test_a_problem_is_logged_once_then_once_an_hour(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    health = ConfigHealth(clock=clock)
    announced: list[ConfigProblem] = []
    health.on_announce = announced.append
    caplog.set_level(logging.ERROR, logger="bot.operations.health")

    for _ in range(50):
        health.record(KEY)
        clock.advance(60)
    health.record(KEY)  # 50 minutes later: still quiet
    clock.advance(11 * 60)
    health.record(KEY)  # over an hour since the first: said again

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2 and len(announced) == 2
    assert lines[0].startswith("Configuration problem: OPENAI_API_KEY: OpenAI refused the API key")
    assert "seen 52 times" in lines[1]


def test_recent_problems_age_out_and_a_working_call_clears_its_service(clock: FakeClock) -> None:
    health = ConfigHealth(clock=clock, recent_seconds=600)
    scope = ConfigProblem("slack", "SLACK_BOT_TOKEN", "missing_scope files:read", "lacks files:read")
    health.record(KEY)
    health.record(scope)

    health.resolve("openai")
    assert [record.problem for record in health.recent()] == [scope]

    clock.advance(601)
    assert health.recent() == []
