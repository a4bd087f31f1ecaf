"""The installs capability, assembled: Bolt's OAuth settings and the workspace lifecycle service."""

from __future__ import annotations

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.assembly.config import Settings
from bot.commands.coach import CoachCommand
from bot.installs.admin_command import HELP_LINE, AdminCommand
from bot.installs.lifecycle import WorkspaceInstalls
from bot.installs.oauth import REFRESH_MINUTES_BEFORE_EXPIRY, build_oauth_settings
from bot.installs.workspace_settings import WorkspaceSettings
from bot.operations.admins import AdminCheck
from storage.caches import CountingTTLCache
from storage.workspaces import WorkspaceOverrides, WorkspaceStore


def build_installs(
    settings: Settings, engine: AsyncEngine, client: AsyncWebClient
) -> tuple[AsyncOAuthSettings | None, WorkspaceInstalls | None]:
    """(None, None) in single-token mode: SLACK_BOT_TOKEN's one workspace, exactly as before."""
    if not settings.oauth_installs:
        return None, None
    oauth = build_oauth_settings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=settings.slack_scopes,
        redirect_uri=settings.slack_redirect_uri,
        slack_api_url=settings.slack_api_url,
        engine=engine,
        client=client,
    )
    installs = WorkspaceInstalls(
        oauth.installation_store,
        WorkspaceStore(engine),
        client,
        rotator=AsyncTokenRotator(
            client_id=settings.slack_client_id, client_secret=settings.slack_client_secret, client=client
        ),
        refresh_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
    )
    return oauth, installs


def workspace_settings(settings: Settings, engine: AsyncEngine) -> WorkspaceSettings:
    """Each workspace's settings over the deployment's (REPORT_CHANNEL_ID, PERF_ADMIN_IDS, RETENTION_DAYS)."""
    defaults = WorkspaceOverrides(
        report_channel_id=settings.report_channel_id,
        perf_admin_ids=settings.perf_admin_ids,
        retention_days=settings.retention_days,
        checkin_days=settings.checkin_days,
    )
    return WorkspaceSettings(WorkspaceStore(engine), defaults)


def add_admin_command(
    router: CoachCommand, settings: WorkspaceSettings, slack_api_cache: CountingTTLCache
) -> AdminCommand:
    """``/coach admin``, for Slack's workspace admins and owners only (no listed ids: a setting's own)."""
    command = AdminCommand(settings, AdminCheck((), slack_api_cache))
    router.add("admin", command, HELP_LINE)
    return command
