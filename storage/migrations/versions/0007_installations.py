"""installations: slack_sdk's installation and OAuth state tables, per-workspace settings, uninstalls

OAuth installs (issue 11) keep each workspace's tokens in slack_sdk's own tables
(``slack_installations``, ``slack_bots``, ``slack_oauth_states``), read and written by its
SQLAlchemy stores. ``workspace_settings`` holds what a workspace's admins set with ``/coach admin``
(NULL: the deployment's environment value). ``workspace_uninstalls`` remembers when a workspace
left, so its coaching data goes after UNINSTALL_RETENTION_DAYS unless it reinstalls.

Like the revisions before, each table is created only when missing.

Revision ID: 0007_installations
Revises: 0006
Create Date: 2026-12-01 00:00:07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

revision: str = "0007_installations"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(64)
_SLACK_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")


def _slack_metadata() -> sa.MetaData:
    """slack_sdk's own table definitions: its stores query exactly these columns."""
    metadata = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    return metadata


def _has_table(name: str) -> bool:
    return not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    for table in _slack_metadata().sorted_tables:
        if not _has_table(table.name):
            op.create_table(table.name, *[column._copy() for column in table.columns])
            for index in table.indexes:
                op.create_index(index.name, table.name, [c.name for c in index.columns])
    if not _has_table("workspace_settings"):
        op.create_table(
            "workspace_settings",
            sa.Column("team_id", _ID, nullable=False),
            sa.Column("enterprise_id", _ID, nullable=True),
            sa.Column("report_channel_id", _ID, nullable=True),
            sa.Column("perf_admin_ids", sa.Text(), nullable=True),
            sa.Column("retention_days", sa.Integer(), nullable=True),
            sa.Column("checkin_days", sa.Integer(), nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.PrimaryKeyConstraint("team_id", name="pk_workspace_settings"),
        )
    if not _has_table("workspace_uninstalls"):
        op.create_table(
            "workspace_uninstalls",
            sa.Column("enterprise_id", _ID, nullable=False),
            sa.Column("team_id", _ID, nullable=False),
            sa.Column(
                "uninstalled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
            ),
            sa.PrimaryKeyConstraint("enterprise_id", "team_id", name="pk_workspace_uninstalls"),
        )


def downgrade() -> None:
    for name in ("workspace_uninstalls", "workspace_settings", *reversed(_SLACK_TABLES)):
        if context.is_offline_mode() or _has_table(name):
            op.drop_table(name)
