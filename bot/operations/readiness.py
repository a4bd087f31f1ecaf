"""``GET /readyz``: can this process coach right now?

Ready means: the database answers, Slack accepts the bot token (auth.test), an OpenAI key
is set, and no configuration problem was recorded lately (``bot.operations.health``). Slack's answer
is cached for ``SLACK_CACHE_SECONDS``, so a probe every few seconds costs one auth.test
(which Slack allows hundreds of times a minute) per cache period, and concurrent probes
share one call. ``/healthz`` stays "the process is up".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from cachetools import TTLCache
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.assembly.config import Settings
from bot.operations.config_errors import slack_problem
from bot.operations.health import ConfigHealth

logger = logging.getLogger(__name__)

SLACK_CACHE_SECONDS = 15.0
#: A probe answers within a load balancer's patience: no retries, a short timeout.
SLACK_PROBE_TIMEOUT = 3
DATABASE_PROBE_TIMEOUT = 3.0
OK = "ok"


class Readiness:
    """Answers /readyz; one per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: AsyncEngine,
        health: ConfigHealth,
        session: aiohttp.ClientSession | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._health = health
        self._slack = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            timeout=SLACK_PROBE_TIMEOUT,
            session=session,
            retry_handlers=[],
        )
        self._slack_answer: TTLCache[str, str] = TTLCache(maxsize=1, ttl=SLACK_CACHE_SECONDS, timer=clock)
        self._slack_lock = asyncio.Lock()

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the JSON body): each check's answer, and one line per reason it isn't ready."""
        database, slack = await asyncio.gather(self._database(), self._slack_status())
        openai = OK if self._settings.openai_api_key else "OPENAI_API_KEY is not set"
        problems = self._health.recent()
        reasons = []
        if database != OK:
            reasons.append(f"DATABASE_URL: the database does not answer ({database})")
        if slack != OK and not any(record.problem.code == slack for record in problems):
            reasons.append(f"Slack: auth.test failed ({slack})")  # else the problem's own line says it
        if openai != OK:
            reasons.append(openai)
        reasons.extend(record.problem.line() for record in problems)
        body: dict[str, Any] = {
            "status": "unavailable" if reasons else "ready",
            "database": database,
            "slack": slack,
            "openai": openai,
        }
        if reasons:
            body["reasons"] = reasons
        if problems:
            body["problems"] = [record.as_json() for record in problems]
        return not reasons, body

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(DATABASE_PROBE_TIMEOUT), self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not ready"; the class names it
            logger.warning("Readiness: the database did not answer (%s)", type(error).__name__)
            return f"unreachable: {type(error).__name__}"
        return OK

    async def _slack_status(self) -> str:
        """auth.test's verdict, from the cache when it is fresh."""
        cached = self._slack_answer.get("auth.test")
        if cached is not None:
            return cached
        async with self._slack_lock:  # concurrent probes wait for one call
            cached = self._slack_answer.get("auth.test")
            if cached is None:
                cached = self._slack_answer["auth.test"] = await self._auth_test()
            return cached

    async def _auth_test(self) -> str:
        if self._settings.oauth_installs:  # each workspace's own token; no one token to test
            return OK
        if not self._settings.slack_bot_token:
            return "SLACK_BOT_TOKEN is not set"
        try:
            await self._slack.auth_test()
        except SlackApiError as error:
            problem = slack_problem("auth.test", error.response.data)
            if problem is not None:
                self._health.record(problem)
            return str(error.response.get("error") or f"HTTP {error.response.status_code}")
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            logger.warning("Readiness: Slack did not answer auth.test (%s)", type(error).__name__)
            return f"unreachable: {type(error).__name__}"
        return OK
