"""Per-workspace settings: what a workspace's admins set with ``/coach admin``, over the deployment's.

REPORT_CHANNEL_ID, PERF_ADMIN_IDS and RETENTION_DAYS are the defaults; a workspace's row
(``workspace_settings``) overrides any of them for that workspace only. Read on /perf and
``/coach admin``, so cached per team for a minute, the entry cleared when the workspace saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from storage.caches import CountingTTLCache
from storage.workspaces import WorkspaceOverrides, WorkspaceStore

T = TypeVar("T")

CACHE_SECONDS = 60.0
CACHE_ENTRIES = 5_000


@dataclass(frozen=True)
class WorkspaceConfig:
    """A workspace's settings in effect, and which of them it set itself."""

    report_channel_id: str | None
    perf_admin_ids: frozenset[str]
    retention_days: int | None
    checkin_days: int | None
    overrides: WorkspaceOverrides


class WorkspaceSettings:
    """Settings by team: the workspace's own values, else the deployment's."""

    def __init__(self, store: WorkspaceStore, defaults: WorkspaceOverrides) -> None:
        self._store = store
        self.defaults = defaults
        self._cache: CountingTTLCache[str, WorkspaceConfig] = CountingTTLCache(
            CACHE_ENTRIES, CACHE_SECONDS, name="workspace_settings"
        )

    async def for_team(self, team_id: str) -> WorkspaceConfig:
        cached = self._cache.get(team_id)
        if cached is not None:
            return cached
        own = await self._store.overrides(team_id)
        config = WorkspaceConfig(
            report_channel_id=_first(own.report_channel_id, self.defaults.report_channel_id),
            perf_admin_ids=_first(own.perf_admin_ids, self.defaults.perf_admin_ids) or frozenset(),
            retention_days=_first(own.retention_days, self.defaults.retention_days),
            checkin_days=_first(own.checkin_days, self.defaults.checkin_days),
            overrides=own,
        )
        self._cache.set(team_id, config)
        return config

    async def perf_admins(self, team_id: str) -> frozenset[str]:
        return (await self.for_team(team_id)).perf_admin_ids

    async def save(self, team_id: str, enterprise_id: str | None, overrides: WorkspaceOverrides) -> None:
        await self._store.save(team_id, enterprise_id, overrides)
        self._cache.pop(team_id)


def _first(own: T | None, default: T | None) -> T | None:
    return own if own is not None else default
