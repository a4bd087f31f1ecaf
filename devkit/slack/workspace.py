"""The workspace's directory: auth.test, users.info, conversations.replies/history."""

from __future__ import annotations

from typing import Any

from devkit.slack.core import EmulatorCore
from devkit.slack.records import SlackError
from devkit.slack.store import ts_key


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
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {"real_name": name.title(), "display_name": name},
        }
        base.update(profile)
        return base

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
