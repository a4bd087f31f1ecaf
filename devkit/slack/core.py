"""The emulator's core: identity, the call record, the message store and waiting on replies.

The Web API methods, files, Socket Mode and the event sender are mixins over this core
(see ``devkit.slack.emulator``); each keeps its own state, set up by its ``_setup_*``.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from devkit._server import BackgroundServer
from devkit.slack.records import Message, RecordedCall, ResponseUrlPost, SlackError
from devkit.slack.rules import EmulatorRules
from devkit.slack.store import MessageStore, enough, ts_key

DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "U0COACH": {"name": "coach", "is_admin": False, "is_owner": False},
    "U0ADMIN": {"name": "admin", "is_admin": True, "is_owner": False},
    "U0OWNER": {"name": "owner", "is_admin": True, "is_owner": True},
}


# The team of the token of the Web API call being answered, for answers that name the workspace.
_CALLING_TEAM: contextvars.ContextVar[str | None] = contextvars.ContextVar("calling_team", default=None)


class EmulatorCore:
    """State every part of the emulator shares; ``SlackEmulator`` adds the methods and the server."""

    _server: BackgroundServer

    def _setup_core(
        self,
        *,
        bot_token: str,
        app_token: str,
        team_id: str,
        bot_user_id: str,
        bot_id: str,
        signing_secret: str,
        users: dict[str, dict[str, Any]] | None,
        app_id: str,
        team_domain: str,
        rules: EmulatorRules,
        clock: Callable[[], float],
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.signing_secret = signing_secret
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.app_id = app_id
        self.team_domain = team_domain
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._calls_by_method: dict[str, list[RecordedCall]] = {}
        self._response_posts: list[ResponseUrlPost] = []
        self._store = MessageStore()
        self._last_ts_us = 0
        self.rules = rules
        self._clock = clock
        self._teams_by_token: dict[str, str] = {bot_token: team_id}
        # Grid: the enterprise of each workspace; and which workspace each channel is in, so a
        # token of one workspace finds nothing of another (channel_not_found, as Slack answers).
        self._enterprise_by_team: dict[str, str | None] = {team_id: None}
        self._channel_teams: dict[str, str] = {}
        self._org_wide_enterprises: set[str] = set()

    def add_workspace(self, team_id: str, bot_token: str) -> None:
        """Install the app in another workspace: ``bot_token`` calls as ``team_id``.

        Rate limits are per workspace, so each token's team has its own budgets; the
        messages, users and files are shared (one emulated Slack, many teams on it).
        """
        with self._lock:
            self._teams_by_token[bot_token] = team_id

    def place_channel(self, channel: str, team_id: str) -> None:
        """Say ``channel`` belongs to ``team_id``: other workspaces' tokens can't see it."""
        with self._lock:
            self._channel_teams.setdefault(channel, team_id)

    def dm_channel_of(self, user_id: str) -> str:
        """The bot's DM channel with ``user_id``: what conversations.open answers for them."""
        return "D" + user_id.removeprefix("U").removeprefix("W")

    def channel_visible(self, channel: str) -> bool:
        """Whether the calling workspace may use ``channel`` (unplaced channels: every workspace)."""
        with self._lock:
            owner = self._channel_teams.get(channel)
            if owner is None or owner == self.calling_team:
                return True
            enterprise = self._enterprise_by_team.get(owner)  # an org-wide token sees its whole org
            return enterprise in self._org_wide_enterprises and (
                self._enterprise_by_team.get(self.calling_team) == enterprise
            )

    def installed_org_wide(self, enterprise_id: str | None) -> bool:
        with self._lock:
            return enterprise_id in self._org_wide_enterprises

    def add_team_to_enterprise(self, team_id: str, enterprise_id: str) -> None:
        """A workspace of a Grid org (its events carry ``enterprise_id``)."""
        with self._lock:
            self._enterprise_by_team[team_id] = enterprise_id

    def enterprise_of(self, team_id: str) -> str | None:
        with self._lock:
            return self._enterprise_by_team.get(team_id)

    def token_problem(self, token: str) -> str | None:
        """Why Slack would refuse a token it issued (expired, revoked); see ``devkit.slack.oauth``."""
        return None

    def team_of(self, token: str) -> str | None:
        """The workspace a bot token belongs to, None for a token Slack wouldn't know."""
        with self._lock:
            return self._teams_by_token.get(token)

    @property
    def calling_team(self) -> str:
        """The workspace of the Web API call being answered (the default team outside one)."""
        return _CALLING_TEAM.get() or self.team_id

    @property
    def origin(self) -> str:
        return self._server.origin

    @property
    def base_url(self) -> str:
        """What slack_sdk's ``base_url`` takes: the client POSTs ``{base_url}{method}``."""
        return f"{self.origin}/api/"

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        **profile: Any,
    ) -> None:
        """Add (or replace) a workspace member; users.info answers with these admin flags."""
        with self._lock:
            self.users[user_id] = {
                "name": name or user_id.lower(),
                "is_admin": is_admin,
                "is_owner": is_owner,
                "is_primary_owner": is_primary_owner,
                **profile,
            }

    # ----------------------------------------------------------------- records

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls_by_method.get(method, ()))

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._calls_by_method.clear()
            self._response_posts.clear()

    def response_url_posts(self, response_id: str | None = None) -> list[ResponseUrlPost]:
        with self._lock:
            posts = list(self._response_posts)
        return posts if response_id is None else [p for p in posts if p.response_id == response_id]

    @staticmethod
    def _answering_for(team_id: str) -> None:
        """Mark the current request as made with a token of ``team_id``."""
        _CALLING_TEAM.set(team_id)

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            self._calls.append(call)
            self._calls_by_method.setdefault(call.method, []).append(call)

    # ----------------------------------------------------------------- message store

    def ts(self) -> str:
        """A fresh message ts: wall-clock based, unique and strictly increasing."""
        with self._lock:
            us = max(self._last_ts_us + 1, int(time.time() * 1_000_000))
            self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def messages(self, channel: str) -> list[Message]:
        """Snapshot copies of a channel's messages, in ts order."""
        with self._lock:
            found = [dataclasses.replace(m) for m in self._store.by_channel.get(channel, {}).values()]
        return sorted(found, key=ts_key)

    def replies_in(self, channel: str, thread_ts: str) -> list[Message]:
        """Snapshot copies of the bot's messages in a thread, in ts order."""
        with self._lock:
            found = [
                dataclasses.replace(m)
                for m in self._store.by_thread.get((channel, thread_ts), ())
                if m.is_bot
            ]
        return sorted(found, key=ts_key)

    def wait_for_replies(
        self,
        channel: str,
        thread_ts: str,
        count: int = 1,
        timeout: float = 10.0,
        complete: bool = True,
        poll: float = 0.01,
    ) -> list[Message]:
        """Block until the thread has ``count`` bot replies (finished streaming if ``complete``).

        Blocks the calling thread: from a coroutine whose loop also runs the app, use
        ``wait_for_replies_async`` instead.
        """
        deadline = time.monotonic() + timeout
        while (replies := self._replies_by(deadline, channel, thread_ts, count, timeout, complete)) is None:
            time.sleep(poll)
        return replies

    async def wait_for_replies_async(
        self,
        channel: str,
        thread_ts: str,
        count: int = 1,
        timeout: float = 10.0,
        complete: bool = True,
        poll: float = 0.01,
    ) -> list[Message]:
        """``wait_for_replies`` that yields to the event loop between polls."""
        deadline = time.monotonic() + timeout
        while (replies := self._replies_by(deadline, channel, thread_ts, count, timeout, complete)) is None:
            await asyncio.sleep(poll)
        return replies

    def _replies_by(
        self, deadline: float, channel: str, thread_ts: str, count: int, timeout: float, complete: bool
    ) -> list[Message] | None:
        """The replies once there are enough, None while waiting, AssertionError past ``deadline``."""
        replies = self.replies_in(channel, thread_ts)
        if enough(replies, count, complete):
            return replies
        if time.monotonic() >= deadline:
            raise AssertionError(self._describe_wait(channel, thread_ts, count, timeout, complete, replies))
        return None

    def _describe_wait(
        self, channel: str, thread_ts: str, count: int, timeout: float, complete: bool, replies: list[Message]
    ) -> str:
        kind = "complete " if complete else ""
        seen = "; ".join(f"ts={m.ts} streaming={m.streaming} text={m.text[:80]!r}" for m in replies) or "none"
        recent = ", ".join(
            f"{c.method}({c.args.get('channel', '')})" + (f"->{c.error}" if c.error else "")
            for c in self.calls[-12:]
        )
        return (
            f"expected {count} {kind}bot reply(ies) in {channel} thread {thread_ts} within {timeout}s; "
            f"saw {len(replies)}: {seen}. Last Web API calls: {recent or 'none'}"
        )

    def _new_bot_message(self, channel: str, thread_ts: str | None, text: str, **extra: Any) -> Message:
        message = Message(
            ts=self.ts(),
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            user=self.bot_user_id,
            bot_id=self.bot_id,
        )
        for key, value in extra.items():
            setattr(message, key, value)
        with self._lock:
            self._store.add(message)
        return message

    def _find(self, args: dict[str, Any]) -> Message:
        with self._lock:
            message = self._store.get(str(args.get("channel", "")), str(args.get("ts", "")))
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _slack_message(self, message: Message) -> dict[str, Any]:
        with self._lock:
            out = message.to_slack()
        out.update({"app_id": self.app_id, "team": self.team_id})
        return out
