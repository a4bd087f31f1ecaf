"""The daily uninstall purge: a workspace gone longer than UNINSTALL_RETENTION_DAYS loses its data.

Its sessions go as the retention purge deletes them (stored files first, from S3 or the local
store, then the rows; attachments and their chunks by cascade), then its delivery claims and its
settings row, and last the uninstall mark itself, so a failure half-way is simply run again the
next day. A workspace that reinstalled meanwhile has no mark any more (its install deleted it),
and keeps everything. An org-wide Grid uninstall covers the org's workspaces that coachbot knows
(those with a settings row of that enterprise, and the installing team).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, select

from jobs import claims
from jobs.retention import DeletePrefix, purge_sessions
from storage.checkin_models import checkin_opt_outs, checkins
from storage.memory_models import MEMORY_TABLES
from storage.models import (
    coach_erasures,
    coaching_sessions,
    processed_events,
    reply_feedback,
    workspace_settings,
    workspace_uninstalls,
)

logger = logging.getLogger(__name__)

JOB = "uninstall_purge"


@dataclass(frozen=True)
class UninstallPurge:
    workspaces: int = 0
    sessions: int = 0
    files: int = 0


def purge_uninstalled_workspaces(
    engine: Engine, *, retention_days: int, now: datetime, delete_files: DeletePrefix | None
) -> UninstallPurge:
    """Delete the data of every workspace uninstalled more than ``retention_days`` ago."""
    cutoff = now - timedelta(days=retention_days)
    with engine.connect() as connection:
        due = connection.execute(
            select(workspace_uninstalls.c.enterprise_id, workspace_uninstalls.c.team_id).where(
                workspace_uninstalls.c.uninstalled_at < cutoff
            )
        ).all()
    workspaces = sessions = files = 0
    for enterprise_id, team_id in due:
        for team in _teams_of(engine, enterprise_id, team_id):
            result = purge_sessions(engine, coaching_sessions.c.team_id == team, delete_files=delete_files)
            with engine.begin() as connection:
                connection.execute(delete(processed_events).where(processed_events.c.team_id == team))
                connection.execute(delete(workspace_settings).where(workspace_settings.c.team_id == team))
                # What the coaches' memory, check-ins, feedback and erasures kept of the workspace
                # (check-ins first: they refer to commitments).
                for table in (checkins, checkin_opt_outs, *MEMORY_TABLES, reply_feedback, coach_erasures):
                    connection.execute(delete(table).where(table.c.team_id == team))
            workspaces += 1
            sessions += result.sessions
            files += result.files
        with engine.begin() as connection:
            connection.execute(
                delete(workspace_uninstalls).where(
                    workspace_uninstalls.c.enterprise_id == enterprise_id,
                    workspace_uninstalls.c.team_id == team_id,
                    workspace_uninstalls.c.uninstalled_at < cutoff,
                )
            )
    if due:
        logger.info(
            "Uninstall purge (%d days): %d workspaces, %d sessions, %d stored files",
            retention_days,
            workspaces,
            sessions,
            files,
        )
    return UninstallPurge(workspaces=workspaces, sessions=sessions, files=files)


def _teams_of(engine: Engine, enterprise_id: str, team_id: str) -> list[str]:
    if team_id:
        return [team_id]
    with engine.connect() as connection:  # an org-wide uninstall: the org's known workspaces
        return list(
            connection.execute(
                select(workspace_settings.c.team_id).where(
                    workspace_settings.c.enterprise_id == enterprise_id
                )
            ).scalars()
        )


def run_uninstall_purge(
    engine: Engine,
    *,
    retention_days: int,
    timezone: str,
    claimed_by: str,
    now: datetime,
    delete_files: DeletePrefix | None,
) -> str:
    """Claim today (in the report timezone) and purge; the outcome for the scheduler's status."""
    period = now.astimezone(ZoneInfo(timezone)).date().isoformat()
    if not claims.claim(engine, JOB, period, claimed_by, now=now):
        return claims.CLAIMED_ELSEWHERE
    try:
        purge_uninstalled_workspaces(
            engine, retention_days=retention_days, now=now, delete_files=delete_files
        )
    except Exception as error:
        claims.finish(engine, JOB, period, claimed_by, f"error: {type(error).__name__}")
        raise
    claims.finish(engine, JOB, period, claimed_by, "ok")
    return "ok"
