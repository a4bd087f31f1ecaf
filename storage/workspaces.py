"""Workspaces: their installations (slack_sdk's store), their own settings, and when they left.

``WorkspaceInstallationStore`` is slack_sdk's SQLAlchemy installation store on the app's engine
and tables (revision 0007_installations); saving an installation also forgets an uninstall, so a
workspace that reinstalls within the retention window keeps its coaching data. Everything takes
plain values, never the app's Settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import (
    BOTS_TABLE,
    INSTALLATIONS_TABLE,
    slack_bots,
    workspace_settings,
    workspace_uninstalls,
)

#: ``workspace_uninstalls`` spells "no enterprise" / "no team" (an org-wide install) as "".
NONE = ""


class WorkspaceInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store on our tables; a (re)install also cancels a pending data deletion."""

    def __init__(self, client_id: str, engine: AsyncEngine) -> None:
        super().__init__(
            client_id, engine, bots_table_name=BOTS_TABLE, installations_table_name=INSTALLATIONS_TABLE
        )

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(installation)
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(workspace_uninstalls).where(
                    workspace_uninstalls.c.enterprise_id == (installation.enterprise_id or NONE),
                    workspace_uninstalls.c.team_id
                    == (NONE if installation.is_enterprise_install else installation.team_id or NONE),
                )
            )


@dataclass(frozen=True)
class WorkspaceOverrides:
    """What a workspace's admins set; None: the deployment's value applies."""

    report_channel_id: str | None = None
    perf_admin_ids: frozenset[str] | None = None
    retention_days: int | None = None
    checkin_days: int | None = None


class WorkspaceStore:
    """Per-workspace settings rows and uninstall marks, on the app's AsyncEngine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def overrides(self, team_id: str) -> WorkspaceOverrides:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        workspace_settings.c.report_channel_id,
                        workspace_settings.c.perf_admin_ids,
                        workspace_settings.c.retention_days,
                        workspace_settings.c.checkin_days,
                    ).where(workspace_settings.c.team_id == team_id)
                )
            ).first()
        if row is None:
            return WorkspaceOverrides()
        admins = frozenset(row.perf_admin_ids.split()) if row.perf_admin_ids is not None else None
        return WorkspaceOverrides(row.report_channel_id, admins, row.retention_days, row.checkin_days)

    async def save(self, team_id: str, enterprise_id: str | None, overrides: WorkspaceOverrides) -> None:
        values = {
            "enterprise_id": enterprise_id,
            "report_channel_id": overrides.report_channel_id,
            "perf_admin_ids": (
                " ".join(sorted(overrides.perf_admin_ids)) if overrides.perf_admin_ids is not None else None
            ),
            "retention_days": overrides.retention_days,
            "checkin_days": overrides.checkin_days,
            "updated_at": datetime.now(UTC),
        }
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                update(workspace_settings).where(workspace_settings.c.team_id == team_id).values(**values)
            )
            if changed.rowcount == 0:
                await connection.execute(insert(workspace_settings).values(team_id=team_id, **values))

    async def mark_uninstalled(self, enterprise_id: str | None, team_id: str | None, at: datetime) -> None:
        """Start the retention clock (an earlier mark stays: the data goes when the first one says)."""
        key = {"enterprise_id": enterprise_id or NONE, "team_id": team_id or NONE}
        async with self._engine.begin() as connection:
            present = (
                await connection.execute(
                    select(workspace_uninstalls.c.team_id).where(
                        workspace_uninstalls.c.enterprise_id == key["enterprise_id"],
                        workspace_uninstalls.c.team_id == key["team_id"],
                    )
                )
            ).first()
            if present is None:
                await connection.execute(insert(workspace_uninstalls).values(uninstalled_at=at, **key))


def installed_teams(engine: Engine) -> list[str]:
    """Workspaces with a bot installation now (blocking, for jobs); org-wide installs by their teams seen."""
    with engine.connect() as connection:
        installed = set(
            connection.execute(
                select(slack_bots.c.team_id).where(slack_bots.c.team_id.is_not(None))
            ).scalars()
        )
        org_wide = set(
            connection.execute(
                select(slack_bots.c.enterprise_id).where(slack_bots.c.is_enterprise_install.is_(True))
            ).scalars()
        )
        if org_wide:
            installed |= set(
                connection.execute(
                    select(workspace_settings.c.team_id).where(
                        workspace_settings.c.enterprise_id.in_(org_wide)
                    )
                ).scalars()
            )
    return sorted(installed)


def report_channels(engine: Engine) -> dict[str, str | None]:
    """Each workspace's own report channel, where its admins set one (blocking, for jobs)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(workspace_settings.c.team_id, workspace_settings.c.report_channel_id)
        )
        return {team: channel for team, channel in rows}


def retention_overrides(engine: Engine) -> dict[str, int]:
    """The workspaces that set their own retention days (0: keep everything), blocking, for jobs."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(workspace_settings.c.team_id, workspace_settings.c.retention_days).where(
                workspace_settings.c.retention_days.is_not(None)
            )
        )
        return {team: int(days) for team, days in rows}
