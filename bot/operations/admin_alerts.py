"""Telling the admins in Slack about a configuration problem: a DM to each of PERF_ADMIN_IDS.

``ConfigHealth`` announces a problem once when it first appears and at most once an hour
while it lasts; each announcement becomes one DM (chat.postMessage with the admin's user
id as the channel: the app's Messages tab). Nothing is sent when the problem is Slack's
token itself, or a missing chat:write: Slack would refuse the DM too, and the ERROR log and
/readyz carry it instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.delivery.workspace_clients import WorkspaceClients
from bot.operations.config_errors import is_token_problem
from bot.operations.health import ConfigProblem

logger = logging.getLogger(__name__)

POSTING_SCOPE = "chat:write"


def alert_text(problem: ConfigProblem) -> str:
    return (
        f":warning: coachbot is not set up correctly: `{problem.setting}`: {problem.reason}. "
        "Coaches who write now are told the bot isn't set up and that you know. "
        "`coachbot check` tests the whole configuration; `/perf` and `/readyz` show what is wrong."
    )


class AdminAlerts:
    """Sends the DMs as background tasks, so the turn that met the problem never waits."""

    def __init__(self, clients: WorkspaceClients, admin_ids: Iterable[str]) -> None:
        # PERF_ADMIN_IDS are people in the deployment's own workspace (``client_for(None)``).
        self._clients = clients
        self._admin_ids = sorted(admin_ids)
        self._tasks: set[asyncio.Task[Any]] = set()

    def announce(self, problem: ConfigProblem) -> None:
        if not self._admin_ids or is_token_problem(problem) or POSTING_SCOPE in problem.code:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # recorded outside the app's loop (a CLI or a thread): log only
            return
        task = loop.create_task(self._send(alert_text(problem)), name="coachbot-admin-alert")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, text: str) -> None:
        client = await self._clients.client_for(None)
        if client is None:
            return
        for admin_id in self._admin_ids:
            try:
                await client.chat_postMessage(channel=admin_id, text=text)
            except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
                detail = error.response.get("error") if isinstance(error, SlackApiError) else None
                logger.warning(
                    "Could not tell admin %s about a configuration problem: %s",
                    admin_id,
                    detail or type(error).__name__,
                )

    async def close(self) -> None:
        """Let DMs already on their way finish (shutdown), briefly."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
