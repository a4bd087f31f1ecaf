"""``/coach admin``: a workspace's admins see and change coachbot's settings for their workspace.

Only Slack's workspace admins and owners (users.info, as /perf checks) may use it; everyone else
is told so. Without arguments it shows the settings in effect (Block Kit, ephemeral), each marked
as the workspace's own or the deployment's default, each with an input that changes it (a channel
picker, a people picker, a choice of days: ``choose`` takes their block actions), and the same as
text commands:

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
from slack_sdk.models.blocks import (
    ChannelSelectElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)

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
#: Asking after more than two months is no follow-through.
MAX_CHECKIN_DAYS = 60
#: The inputs' action ids (``handlers/actions`` routes ``coach_admin_*`` to ``choose``).
ACTION_PREFIX = "coach_admin_"
REPORT_ACTION, ADMINS_ACTION, RETENTION_ACTION, CHECKINS_ACTION = (
    f"{ACTION_PREFIX}{n}" for n in ("report", "admins", "retention", "checkins")
)
RETENTION_CHOICES = ("30", "90", "180", "365", "off", _DEFAULT)
CHECKIN_CHOICES = ("3", "7", "14", "30", _DEFAULT)


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
        return await self._save(request.team_id, request.enterprise_id, what, values)

    async def _save(self, team_id: str, enterprise_id: str | None, what: str, values: list[str]) -> str:
        current = (await self._settings.for_team(team_id)).overrides
        try:
            changed = _changed(current, what, values)
        except ValueError as problem:
            return str(problem)
        await self._settings.save(team_id, enterprise_id, changed)
        logger.info("/coach admin: workspace %s changed its %s setting", team_id, what)
        return "Saved."

    async def choose(self, body: dict[str, Any], *, respond: Any, client: Any) -> None:
        """A block action on the settings message: check the admin again, save, show the new settings."""
        team_id = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
        enterprise_id = (body.get("enterprise") or {}).get("id") if body.get("enterprise") else None
        user_id = str((body.get("user") or {}).get("id") or "")
        if not await self._admins.is_admin(client, team_id=team_id, user_id=user_id):
            await respond(response_type="ephemeral", text=NOT_ADMIN)
            return
        note = None
        for action in body.get("actions") or ():
            what, values = _chosen(action)
            if what is not None:
                note = await self._save(team_id, enterprise_id, what, values)
        config = await self._settings.for_team(team_id)
        blocks = settings_blocks(config, note)
        await respond(
            replace_original=True, text=note or "coachbot's settings", blocks=[b.to_dict() for b in blocks]
        )


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
    if what == "checkins":
        if reset:
            return replace(current, checkin_days=None)
        if len(values) != 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= MAX_CHECKIN_DAYS:
            raise ValueError(f"Give a number of days from 1 to {MAX_CHECKIN_DAYS}, or `default`.")
        return replace(current, checkin_days=int(values[0]))
    raise ValueError("I know `report`, `admins`, `retention` and `checkins`.")


def _chosen(action: dict[str, Any]) -> tuple[str | None, list[str]]:
    """What a block action asks: (setting, its values in the text command's words)."""
    action_id = action.get("action_id")
    if action_id == REPORT_ACTION:
        channel = action.get("selected_channel")
        return "report", [channel] if channel else [_DEFAULT]
    if action_id == ADMINS_ACTION:
        return "admins", list(action.get("selected_users") or ()) or [_DEFAULT]
    if action_id == RETENTION_ACTION:
        return "retention", [str((action.get("selected_option") or {}).get("value") or _DEFAULT)]
    if action_id == CHECKINS_ACTION:
        return "checkins", [str((action.get("selected_option") or {}).get("value") or _DEFAULT)]
    return None, []


def _retention_option(value: str) -> Option:
    label = {"off": "Keep until deleted", _DEFAULT: "The deployment's default"}.get(value, f"{value} days")
    return Option(value=value, text=label)


def _checkin_option(value: str) -> Option:
    label = "The deployment's default" if value == _DEFAULT else f"After {value} days"
    return Option(value=value, text=label)


#: The settings' labels, in the order they are shown (here and on an admin's App Home).
SETTING_LABELS = {
    "report": "Weekly report channel",
    "admins": "/perf also for",
    "retention": "Sessions kept",
    "checkins": "Check-in on a commitment with no date",
}


def setting_lines(config: WorkspaceConfig, *, default_label: str = "default") -> dict[str, str]:
    """Each setting in effect, in words, marked as this workspace's own or ``default_label``."""
    own = config.overrides

    def origin(value: object) -> str:
        return "set here" if value is not None else default_label

    channel = f"<#{config.report_channel_id}>" if config.report_channel_id else "none (no weekly report)"
    admins = " ".join(f"<@{u}>" for u in sorted(config.perf_admin_ids)) or "workspace admins and owners only"
    days = config.retention_days
    retention = f"{days} days after a session's last message" if days else "kept until deleted"
    return {
        "report": f"{channel} ({origin(own.report_channel_id)})",
        "admins": f"{admins} ({origin(own.perf_admin_ids)})",
        "retention": f"{retention} ({origin(own.retention_days)})",
        "checkins": f"after {config.checkin_days} days ({origin(own.checkin_days)})",
    }


def settings_blocks(config: WorkspaceConfig, note: str | None) -> list[Any]:
    """The settings in effect, each marked as this workspace's own or the deployment's default."""
    lines = setting_lines(config)
    blocks: list[Any] = []
    if note:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=note)))
    blocks += [
        SectionBlock(
            block_id="report",
            text=MarkdownTextObject(text=f"*{SETTING_LABELS['report']}:* {lines['report']}"),
            accessory=ChannelSelectElement(
                action_id=REPORT_ACTION,
                placeholder="Pick a channel",
                initial_channel=config.report_channel_id,
            ),
        ),
        SectionBlock(
            block_id="admins",
            text=MarkdownTextObject(text=f"*{SETTING_LABELS['admins']}:* {lines['admins']}"),
            accessory=UserMultiSelectElement(
                action_id=ADMINS_ACTION,
                placeholder="Pick people",
                initial_users=sorted(config.perf_admin_ids) or None,
            ),
        ),
        SectionBlock(
            block_id="retention",
            text=MarkdownTextObject(text=f"*{SETTING_LABELS['retention']}:* {lines['retention']}"),
            accessory=StaticSelectElement(
                action_id=RETENTION_ACTION,
                placeholder="How long",
                options=[_retention_option(value) for value in RETENTION_CHOICES],
            ),
        ),
        SectionBlock(
            block_id="checkins",
            text=MarkdownTextObject(text=f"*{SETTING_LABELS['checkins']}:* {lines['checkins']}"),
            accessory=StaticSelectElement(
                action_id=CHECKINS_ACTION,
                placeholder="When",
                options=[_checkin_option(value) for value in CHECKIN_CHOICES],
            ),
        ),
    ]
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Change: `/coach admin report #channel` · `/coach admin admins @ana @ben` · "
                    "`/coach admin retention 90` (or `off`) · `/coach admin checkins 7`; "
                    "`default` puts one back."
                )
            ]
        )
    )
    return blocks
