"""The admin section of the App Home: the workspace's settings, read-only, for its admins only.

OAuth installs: Slack's workspace admins and owners (users.info, cached, as ``/coach admin``
checks) see the workspace's settings in effect and are pointed to ``/coach admin``. One
workspace (SLACK_BOT_TOKEN): the /perf admins see what the environment sets. Anyone else, or
a Slack look-up that fails, gets no admin section.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.home.view import AdminSettings
from bot.installs.admin_command import SETTING_LABELS, setting_lines
from bot.installs.workspace_settings import WorkspaceConfig, WorkspaceSettings
from bot.operations.admins import AdminCheck
from storage.workspaces import WorkspaceOverrides

logger = logging.getLogger(__name__)

OAUTH_HINT = "Only admins see this. Change them with `/coach admin`."
ENV_HINT = (
    "Only admins see this. Set by the deployment: REPORT_CHANNEL_ID, PERF_ADMIN_IDS, RETENTION_DAYS, "
    "CHECKIN_DAYS."
)


class AdminView:
    """``for_viewer``: the admin section for this viewer, or None."""

    def __init__(
        self, admins: AdminCheck, workspace: WorkspaceSettings | None, deployment: WorkspaceOverrides
    ) -> None:
        self._admins = admins
        self._workspace = workspace
        self._deployment = deployment

    async def for_viewer(self, client: AsyncWebClient, *, team_id: str, user_id: str) -> AdminSettings | None:
        try:
            if not await self._admins.is_admin(client, team_id=team_id, user_id=user_id):
                return None
        except SLACK_ERRORS as error:
            logger.warning("users.info failed for a Home's admin check (error=%s)", slack_error_name(error))
            return None
        if self._workspace is not None:
            lines = setting_lines(await self._workspace.for_team(team_id))
            hint = OAUTH_HINT
        else:
            lines = setting_lines(self._deployment_config(), default_label="environment")
            hint = ENV_HINT
        return AdminSettings(
            rows=tuple((SETTING_LABELS[key], lines[key]) for key in SETTING_LABELS), hint=hint
        )

    def _deployment_config(self) -> WorkspaceConfig:
        d = self._deployment
        return WorkspaceConfig(
            report_channel_id=d.report_channel_id,
            perf_admin_ids=d.perf_admin_ids or frozenset(),
            retention_days=d.retention_days,
            checkin_days=d.checkin_days,
            overrides=WorkspaceOverrides(),
        )
