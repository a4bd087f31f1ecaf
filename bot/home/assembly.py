"""The App Home, assembled once per process (``bot.assembly.app``), with ``/coach settings``."""

from __future__ import annotations

from bot.assembly.config import Settings
from bot.checkins.coach_zones import CoachZones
from bot.commands.coach import CoachCommand
from bot.home.admin_view import AdminView
from bot.home.command import HELP_LINE, SettingsCommand
from bot.home.links import TeamUrls
from bot.home.service import HomeParts, HomeService
from bot.installs.workspace_settings import WorkspaceSettings
from bot.memory.service import MemoryService
from bot.operations.admins import AdminCheck
from storage.caches import CacheRegistry
from storage.conversations import ConversationStore
from storage.files import FileStore
from storage.workspaces import WorkspaceOverrides


def build_home(
    settings: Settings,
    *,
    store: ConversationStore,
    memory: MemoryService | None,
    files: FileStore | None,
    zones: CoachZones,
    caches: CacheRegistry,
    workspace: WorkspaceSettings | None,
    router: CoachCommand,
) -> HomeService:
    """OAuth installs: workspace admins see their workspace's settings; one workspace: the /perf admins."""
    admins = AdminCheck(settings.perf_admin_ids if workspace is None else (), caches.get("slack_api"))
    deployment = WorkspaceOverrides(
        report_channel_id=settings.report_channel_id,
        perf_admin_ids=settings.perf_admin_ids,
        retention_days=settings.retention_days,
        checkin_days=settings.checkin_days,
    )
    home = HomeService(
        HomeParts(
            store=store,
            memory=memory,
            files=files,
            zones=zones,
            admin=AdminView(admins, workspace, deployment),
            team_urls=TeamUrls(caches.get("slack_api")),
            opened=caches.get("home_opened"),
        )
    )
    router.add("settings", SettingsCommand(home), HELP_LINE)
    return home
