"""``/coach admin``: a workspace's admins see and change coachbot's settings for their workspace.

Only Slack's workspace admins and owners (users.info, as /perf checks) may use it; everyone else
is told so. Without arguments it shows the settings in effect (Block Kit, ephemeral), each marked
as the workspace's own or the deployment's default, with the commands that change them:

- ``/coach admin report #channel`` (or a channel id; ``default`` for the deployment's),
- ``/coach admin admins @someone @another`` (who else may use /perf; ``default``),
- ``/coach admin retention 90`` (days a quiet session is kept; ``off`` keeps them; ``default``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock

from bot.commands.coach import CoachRequest
from bot.installs.workspace_settings import WorkspaceConfig, WorkspaceSettings
from bot.operations.admins import AdminCheck
from storage.workspaces import WorkspaceOverrides

logger = logging.getLogger(__name__)

HELP_LINE = "workspace admins: this workspace's report channel, /perf admins and retention"
NOT_ADMIN = "Only this workspace's admins and owners can change coachbot's settings."
_CHANNEL = re.compile(r"^<?#?(?P<id>[CG][A-Z0-9]{2,})(?:\|[^>]*)?>?$")
_USER = re.compile(r"^<?@?(?P<id>[UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$")
_DEFAULT = "default"
#: A day is the least the purge can mean; ten years is more than any policy asks for.
MAX_RETENTION_DAYS = 3650


class AdminCommand:
    """The ``admin`` subcommand of ``/coach``."""

    def __init__(self, settings: WorkspaceSettings, admins: AdminCheck) -> None:
        self._settings = settings
        self._admins = admins

    async def __call__(self, request: CoachRequest) -> None:
        try:
            allowed = await self._admins.is_admin(
                request.client, team_id=request.team_id, user_id=request.user_id
            )
        except SlackApiError as error:
            logger.warning("/coach admin: users.info failed (%s)", error.response.get("error"))
            await request.respond(
                response_type="ephemeral", text="I couldn't check who you are with Slack just now."
            )
            return
        if not allowed:
            await request.respond(response_type="ephemeral", text=NOT_ADMIN)
            return
        words = request.argument.split()
        note = None
        if words:
            note = await self._change(request, words[0].lower(), words[1:])
        config = await self._settings.for_team(request.team_id)
        blocks = settings_blocks(config, note)
        await request.respond(
            response_type="ephemeral",
            text=note or "coachbot's settings",
            blocks=[b.to_dict() for b in blocks],
        )

    async def _change(self, request: CoachRequest, what: str, values: list[str]) -> str:
        current = (await self._settings.for_team(request.team_id)).overrides
        try:
            changed = _changed(current, what, values)
        except ValueError as problem:
            return str(problem)
        await self._settings.save(request.team_id, request.enterprise_id, changed)
        logger.info("/coach admin: workspace %s changed its %s setting", request.team_id, what)
        return "Saved."


def _changed(current: WorkspaceOverrides, what: str, values: list[str]) -> WorkspaceOverrides:
    reset = values == [_DEFAULT]
    if what == "report":
        if reset:
            return replace(current, report_channel_id=None)
        match = _CHANNEL.match(values[0]) if len(values) == 1 else None
        if match is None:
            raise ValueError("Name one channel: `/coach admin report #coaching-reports` (or `default`).")
        return replace(current, report_channel_id=match["id"])
    if what == "admins":
        if reset:
            return replace(current, perf_admin_ids=None)
        ids = [_USER.match(value) for value in values]
        if not ids or any(m is None for m in ids):
            raise ValueError("Mention the people: `/coach admin admins @ana @ben` (or `default`).")
        return replace(current, perf_admin_ids=frozenset(m["id"] for m in ids if m is not None))
    if what == "retention":
        if reset:
            return replace(current, retention_days=None)
        if values == ["off"]:
            return replace(current, retention_days=0)
        if len(values) != 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= MAX_RETENTION_DAYS:
            raise ValueError(f"Give a number of days from 1 to {MAX_RETENTION_DAYS}, `off` or `default`.")
        return replace(current, retention_days=int(values[0]))
    raise ValueError("I know `report`, `admins` and `retention`.")


def settings_blocks(config: WorkspaceConfig, note: str | None) -> list[Any]:
    """The settings in effect, each marked as this workspace's own or the deployment's default."""
    own = config.overrides

    def origin(value: object) -> str:
        return "set here" if value is not None else "default"

    channel = f"<#{config.report_channel_id}>" if config.report_channel_id else "none (no weekly report)"
    admins = " ".join(f"<@{u}>" for u in sorted(config.perf_admin_ids)) or "workspace admins and owners only"
    days = config.retention_days
    retention = f"{days} days after a session's last message" if days else "kept until deleted"
    lines = [
        f"*Weekly report channel:* {channel} ({origin(own.report_channel_id)})",
        f"*/perf also for:* {admins} ({origin(own.perf_admin_ids)})",
        f"*Sessions kept:* {retention} ({origin(own.retention_days)})",
    ]
    blocks: list[Any] = []
    if note:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=note)))
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Change: `/coach admin report #channel` · `/coach admin admins @ana @ben` · "
                    "`/coach admin retention 90` (or `off`); `default` puts one back."
                )
            ]
        )
    )
    return blocks
