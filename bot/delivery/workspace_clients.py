"""Which Slack client speaks for a workspace when no request brought one.

A listener gets its workspace's client from Bolt's context (``context.client``; in OAuth mode it
carries the installation's token) and builds its turn's ``SlackConversation`` from it. Work that
starts without a request (the owed-reply recovery, the weekly report, the admins' alerts) asks a
``WorkspaceClients`` instead: it is the only way those get a client, so no service keeps a token.

In single-token mode (``SLACK_BOT_TOKEN`` and no client id) that is ``SingleWorkspace``: the one
client for every team. In OAuth mode the installation store backs it (bot/installs).
"""

from __future__ import annotations

from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient


class WorkspaceClients(Protocol):
    """A workspace's Slack client, by team (and enterprise, for an Enterprise Grid org install)."""

    async def client_for(
        self, team_id: str | None, enterprise_id: str | None = None
    ) -> AsyncWebClient | None:
        """The client carrying the workspace's bot token; None when the app is not installed there.

        ``team_id`` None asks for the deployment's own workspace (where REPORT_CHANNEL_ID and
        PERF_ADMIN_IDS live); in single-token mode that is the only one.
        """
        ...


class SingleWorkspace:
    """Single-token mode: one workspace, one client (the app's, with its pooled HTTP session)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def client_for(
        self, team_id: str | None, enterprise_id: str | None = None
    ) -> AsyncWebClient | None:
        return self._client


class WorkspaceNotInstalled(LookupError):
    """The app is not (or no longer) installed in the workspace a job is working for."""


async def client_of(clients: WorkspaceClients, team_id: str | None) -> AsyncWebClient:
    """``clients.client_for(team_id)``, or WorkspaceNotInstalled: for work that must not go on without it."""
    client = await clients.client_for(team_id)
    if client is None:
        raise WorkspaceNotInstalled(team_id or "")
    return client
