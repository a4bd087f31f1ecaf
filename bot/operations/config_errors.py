"""Which OpenAI and Slack errors are configuration errors, and which setting each one names.

OpenAI answers 400/401/403/404 when the key, the model, the base URL or a request parameter
is wrong for this server: retrying never helps. Slack answers ``invalid_auth`` and friends
for a bad token, and ``missing_scope`` (with the scope ``needed``) when the app was installed
without a scope it uses. Only status codes, error codes and parameter names are read: an
OpenAI 401's message quotes part of the key, so no error's text ever reaches a problem.

``SlackConfigWatch`` sees every Slack response the app's client gets (it sits in slack_sdk's
retry-handler chain and never asks for a retry), so every caller (the turn, attachments,
/perf, Bolt's own auth.test) reports Slack configuration errors without code of its own.
"""

from __future__ import annotations

from typing import Any

import openai
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.operations.health import ConfigHealth, ConfigProblem

#: Slack's answers for a token it will not accept (auth.test documents the first two).
SLACK_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
MISSING_SCOPE = "missing_scope"
#: The one method that takes the app-level token (Socket Mode).
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

_OPENAI_CONFIG_STATUSES = (
    openai.BadRequestError,
    openai.AuthenticationError,
    openai.PermissionDeniedError,
    openai.NotFoundError,
)


def is_config_error(error: BaseException) -> bool:
    """True for an OpenAI error that a setting, not a retry, will fix."""
    return isinstance(error, _OPENAI_CONFIG_STATUSES)


def openai_problem(error: BaseException, *, model: str = "") -> ConfigProblem | None:
    """The configuration problem behind an OpenAI error, or None for any other error."""
    if not isinstance(error, _OPENAI_CONFIG_STATUSES):
        return None
    code = _text(getattr(error, "code", None))
    param = _text(getattr(error, "param", None))
    status = error.status_code
    label = " ".join(part for part in (str(status), code) if part)
    named = f" {model}" if model else ""
    if isinstance(error, openai.AuthenticationError):
        return ConfigProblem("openai", "OPENAI_API_KEY", label, f"OpenAI refused the API key ({label})")
    if isinstance(error, openai.PermissionDeniedError):
        reason = f"the API key may not use the model{named} from here ({label})"
        return ConfigProblem("openai", "OPENAI_API_KEY", label, reason)
    if isinstance(error, openai.NotFoundError):
        if code == "model_not_found" or "model" in (error.message or "").lower():
            reason = f"the model server does not know the model{named} ({label})"
            return ConfigProblem("openai", "OPENAI_MODEL", label, reason)
        reason = f"no chat completions at that address ({label}); OPENAI_BASE_URL usually ends in /v1"
        return ConfigProblem("openai", "OPENAI_BASE_URL", label, reason)
    # 400: a parameter this model or server refuses.
    if param:
        label = f"{label} param={param}"
    if code == "context_length_exceeded":
        reason = f"the prompt is larger than the model{named} takes ({label}); lower CONTEXT_TOKEN_BUDGET"
        return ConfigProblem("openai", "CONTEXT_TOKEN_BUDGET", label, reason)
    if param in ("max_tokens", "max_completion_tokens"):
        if code == "unsupported_parameter":
            reason = f"the model{named} takes the reply's limit under another name ({label})"
            return ConfigProblem("openai", "OPENAI_TOKEN_PARAMETER", label, reason)
        reason = f"the model{named} refuses the reply's token limit ({label})"
        return ConfigProblem("openai", "OPENAI_MAX_TOKENS", label, reason)
    if "image" in code or "image" in param:
        reason = f"the model{named} refused an image ({label}); set OPENAI_VISION=false if it takes none"
        return ConfigProblem("openai", "OPENAI_VISION", label, reason)
    reason = f"the model server refused the request for the model{named} ({label})"
    return ConfigProblem("openai", "OPENAI_MODEL", label, reason)


def slack_problem(method: str, body: Any) -> ConfigProblem | None:
    """The configuration problem in a Slack Web API answer, or None when there is none."""
    if not isinstance(body, dict) or body.get("ok", True):
        return None
    error = _text(body.get("error"))
    if error in SLACK_TOKEN_ERRORS:
        setting = "SLACK_APP_TOKEN" if method in APP_TOKEN_METHODS else "SLACK_BOT_TOKEN"
        return ConfigProblem("slack", setting, error, f"Slack refused the token ({error} on {method})")
    if error == MISSING_SCOPE:
        needed = _text(body.get("needed")) or "an unnamed scope"
        reason = (
            f"the Slack app lacks the {needed} scope ({method} answered missing_scope); "
            "add it to the app's bot scopes (manifest.yml) and reinstall"
        )
        return ConfigProblem("slack", "SLACK_BOT_TOKEN", f"missing_scope {needed}", reason)
    return None


def is_token_problem(problem: ConfigProblem) -> bool:
    """A Slack token that Slack refuses: nothing can be posted with it."""
    return problem.service == "slack" and problem.code in SLACK_TOKEN_ERRORS


def method_of(url: str) -> str:
    """``https://slack.com/api/chat.postMessage?x=1`` → ``chat.postMessage``."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class SlackConfigWatch(AsyncRetryHandler):
    """Records Slack configuration errors from every response; never retries.

    First in the client's retry handlers: slack_sdk asks each handler in turn until one
    retries, so the first sees every response.
    """

    def __init__(self, health: ConfigHealth) -> None:
        super().__init__(max_retry_count=0)
        self._health = health

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        body = response.body if response is not None else None
        if isinstance(body, dict) and not body.get("ok", True):  # an ok answer costs one lookup
            problem = slack_problem(method_of(request.url), body)
            if problem is not None:
                self._health.record(problem)
        return False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
