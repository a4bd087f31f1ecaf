"""A workspace leaving: its installation goes at once, its coaching data after the retention window.

Bolt's built-in ``tokens_revoked`` listener deletes only the ``slack_bots`` row, while
``slack_installations`` still holds the same bot token, which ``find_installation`` would go on
returning. Here either event deletes every installation row of the workspace (or Grid org), so
the revoked token cannot be found, and starts UNINSTALL_RETENTION_DAYS; a reinstall cancels it
(``storage.workspaces.WorkspaceInstallationStore.async_save``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from storage.workspaces import WorkspaceStore

logger = logging.getLogger(__name__)


class WorkspaceInstalls:
    """Installations by workspace: a team's client for jobs (``WorkspaceClients``), and uninstalls."""

    def __init__(
        self,
        store: AsyncInstallationStore,
        workspaces: WorkspaceStore,
        client: AsyncWebClient,
        *,
        rotator: AsyncTokenRotator | None = None,
        refresh_minutes: int = 120,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._workspaces = workspaces
        self._client = client
        self._rotator = rotator
        self._refresh_minutes = refresh_minutes
        self._clock = clock

    async def uninstalled(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool
    ) -> None:
        """``app_uninstalled`` or the bot token's ``tokens_revoked``: forget every token now."""
        team = None if is_enterprise_install else team_id
        await self.store.async_delete_all(enterprise_id=enterprise_id, team_id=team)
        await self._workspaces.mark_uninstalled(enterprise_id, team, self._clock())
        logger.info("Workspace %s uninstalled the app; its installation is deleted", team or enterprise_id)

    async def client_for(
        self, team_id: str | None, enterprise_id: str | None = None
    ) -> AsyncWebClient | None:
        """The workspace's bot client (a Grid org-wide install's for a team of it), None if not installed.

        ``WorkspaceClients`` (bot.delivery.workspace_clients) backed by the installation store.
        ``team_id`` None (the deployment's own workspace) has no meaning here: every workspace
        installed itself, so there is none.
        """
        if team_id is None:
            return None
        bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id is not None:
            bot = await self.store.async_find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        if bot is None or not bot.bot_token:
            return None
        if self._rotator is not None and bot.bot_refresh_token:  # refreshed before it expires
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self._refresh_minutes
            )
            if refreshed is not None:
                await self.store.async_save_bot(refreshed)
                bot = refreshed
        return token_client(self._client, bot.bot_token or "")


def token_client(client: AsyncWebClient, token: str) -> AsyncWebClient:
    """``client`` with another token: the same base URL, pooled session and retry handlers (as Bolt does)."""
    return AsyncWebClient(
        token=token,
        base_url=client.base_url,
        timeout=client.timeout,
        session=client.session,
        headers=client.headers,
        logger=client.logger,
        retry_handlers=client.retry_handlers.copy() if client.retry_handlers is not None else None,
    )
