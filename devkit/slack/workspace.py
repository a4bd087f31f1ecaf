"""The workspace's directory: auth.test, users.info, conversations.open/replies/history.

users.info answers each member's timezone as Slack does (the user object's ``tz``, ``tz_label``
and ``tz_offset``): ``add_user("U1", tz="America/New_York")`` sets the IANA name, and the label
and offset (seconds east of UTC, DST included) follow from it at the moment of the call.
conversations.open takes ``users`` (1 to 8 ids; one id opens the bot's DM with that person,
always the same channel) or an existing DM's ``channel``, as its method page says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devkit.slack.core import EmulatorCore
from devkit.slack.records import SlackError
from devkit.slack.store import ts_key

DEFAULT_TZ = "Europe/London"
MAX_OPEN_USERS = 8  # conversations.open: "Needs at most 8 users to open"


def tz_fields(tz: str, now: datetime | None = None) -> dict[str, Any]:
    """``tz``, ``tz_label`` and ``tz_offset`` of a Slack user object for an IANA zone name."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {tz!r}") from None
    local = (now or datetime.now(UTC)).astimezone(zone)
    offset = local.utcoffset()
    return {
        "tz": tz,
        "tz_label": local.tzname() or tz,
        "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
    }


class WorkspaceMixin(EmulatorCore):
    """Who the bot is, who the members are, and what a channel or thread holds."""

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain,
            "user": "coachbot",
            "team_id": self.calling_team,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "enterprise_id": self.enterprise_of(self.calling_team),
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user", ""))
        if not user_id:
            raise SlackError("invalid_arguments", detail="user is required")
        if user_id == self.bot_user_id:
            return {"user": self._user_json(user_id, {"name": "coachbot"}, is_bot=True)}
        profile = self.users.get(user_id)
        if profile is None:
            raise SlackError("user_not_found")
        return {"user": self._user_json(user_id, profile)}

    def _user_json(self, user_id: str, profile: dict[str, Any], *, is_bot: bool = False) -> dict[str, Any]:
        name = str(profile.get("name", user_id.lower()))
        base: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": {"real_name": name.title(), "display_name": name},
        }
        base.update(profile)
        base.update(tz_fields(str(profile.get("tz") or DEFAULT_TZ)))
        return base

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if channel and users:
            raise SlackError("invalid_arguments", detail="channel and users are not used together")
        if channel:
            with self._lock:
                known = {self.dm_channel_of(u) for u in self.users}
            if channel not in known:
                raise SlackError("channel_not_found")
            return {"channel": {"id": channel}, "no_op": True, "already_open": True}
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > MAX_OPEN_USERS:
            raise SlackError("too_many_users")
        with self._lock:
            unknown = [u for u in users if u not in self.users]
        if unknown:
            raise SlackError("user_not_found")
        if len(users) > 1:
            raise SlackError("method_not_supported_for_channel_type")  # group DMs: not emulated
        return {"channel": {"id": self.dm_channel_of(users[0])}}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(args.get("channel", "")), str(args.get("ts", ""))
        with self._lock:
            root = self._store.get(channel, thread_ts)
            thread = list(self._store.by_thread.get((channel, thread_ts), ()))
            found = [m.to_slack() for m in sorted(([root] if root else []) + thread, key=ts_key)]
        if not found:
            raise SlackError("thread_not_found")
        return {"messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        with self._lock:
            stored = self._store.by_channel.get(channel, {}).values()
            top = [m for m in stored if m.thread_ts is None or m.thread_ts == m.ts]
            found = [m.to_slack() for m in sorted(top, key=ts_key, reverse=True)]
        return {
            "messages": found,
            "has_more": False,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }
