"""One turn's Slack conversation: every Slack write of the turn goes through it.

It is built per request from Bolt's context (``SlackDelivery.from_context``): the workspace's
client (``context.client``; in OAuth mode it carries the installation's token), the channel,
thread, coach and team, and Bolt's own utilities already bound to that thread (``say_stream``,
``set_status``). Work without a request (the owed-reply recovery, the attachment retries) builds
one from a workspace's client (``SlackDelivery.for_thread``; the client comes from
``bot.delivery.workspace_clients``). So no service holds a token or a client: it is handed the
conversation of the turn it works on.

The conversation owns the two policies every write shares: the workspace's rate budget
(``bot.delivery.slack_budget``, keyed by team), and what a Slack failure means
(``bot.delivery.reply_message``): a note that cannot be posted is logged (never raised), an
optional call (status, title, reaction) is sent in the background and may fail quietly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.say_stream.async_say_stream import AsyncSayStream
from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_title.async_set_title import AsyncSetTitle
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.turn_values import CoachMessage, Surface
from bot.delivery.background import BackgroundCalls
from bot.delivery.reply_message import SLACK_ERRORS, ThreadTarget, slack_error_name
from bot.delivery.reply_modes import StreamingSupport
from bot.delivery.slack_budget import SlackRateBudget
from bot.delivery.slack_files import stream_slack_file

logger = logging.getLogger(__name__)


@dataclass
class SlackConversation:
    """A thread in one workspace, as one turn writes to it."""

    client: AsyncWebClient
    channel_id: str
    thread_ts: str
    team_id: str | None
    user_id: str | None
    surface: Surface
    budget: SlackRateBudget
    background: BackgroundCalls
    enterprise_id: str | None = None
    #: Bolt's utilities bound to this thread: the ones Bolt injected when they match, else Bolt's classes.
    say_stream: AsyncSayStream = field(default=None)  # type: ignore[assignment]
    set_status: AsyncSetStatus = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.say_stream is None:
            self.say_stream = AsyncSayStream(
                client=self.client,
                channel=self.channel_id,
                thread_ts=self.thread_ts,
                recipient_team_id=self.team_id or self.enterprise_id,
                recipient_user_id=self.user_id,
            )
        if self.set_status is None:
            self.set_status = AsyncSetStatus(self.client, self.channel_id, self.thread_ts)
        self.budget.name_workspace(self.client.token, self.workspace)

    @property
    def workspace(self) -> str:
        """The rate budget's key: Slack's limits are per app per workspace."""
        return self.team_id or self.enterprise_id or self.client.token or ""

    @property
    def target(self) -> ThreadTarget:
        return ThreadTarget(self.channel_id, self.thread_ts, self.team_id, self.user_id)

    # ------------------------------------------------------------------ notes in the thread

    async def post(self, text: str) -> bool:
        """A short note in the thread (a failure, a confirmation); a Slack failure is logged, not raised."""
        try:
            await self.client.chat_postMessage(channel=self.channel_id, thread_ts=self.thread_ts, text=text)
        except SLACK_ERRORS as error:
            logger.error(
                "Could not post a note in the thread (channel=%s, error=%s)",
                self.channel_id,
                slack_error_name(error),
            )
            return False
        return True

    async def post_ephemeral(self, text: str) -> bool:
        """A note only the turn's user sees; a Slack failure is logged, not raised."""
        try:
            await self.client.chat_postEphemeral(
                channel=self.channel_id, user=self.user_id or "", thread_ts=self.thread_ts, text=text
            )
        except SLACK_ERRORS as error:
            logger.info(
                "Could not post an ephemeral note (channel=%s, error=%s)",
                self.channel_id,
                slack_error_name(error),
            )
            return False
        return True

    async def stop_stream(self, ts: str, note: str) -> bool:
        """Close a reply stream left open (by a dead process) with ``note``; False if Slack would not."""
        try:
            await self.client.chat_stopStream(channel=self.channel_id, ts=ts, markdown_text=note)
        except SLACK_ERRORS as error:  # Slack may have closed it already
            logger.info(
                "Could not close a stale reply stream (channel=%s, error=%s)",
                self.channel_id,
                slack_error_name(error),
            )
            return False
        return True

    # ------------------------------------------------------------------ optional feedback

    def show_status(self, status: str) -> None:
        """assistant.threads.setStatus through Bolt's ``set_status``, without waiting."""
        self.background.spawn(self.set_status(status=status))

    def show_title(self, title: str) -> None:
        """The thread's title (DM and agent-panel timelines only), through Bolt's ``AsyncSetTitle``."""
        self.background.spawn(AsyncSetTitle(self.client, self.channel_id, self.thread_ts)(title))

    def react(self, name: str, ts: str) -> Any:
        """Add a reaction to a message in the thread, without waiting; returns the task."""
        return self.background.spawn(
            self.client.reactions_add(name=name, channel=self.channel_id, timestamp=ts)
        )

    async def unreact(self, name: str, ts: str) -> None:
        """Remove a reaction; best effort."""
        await self.background.spawn(
            self.client.reactions_remove(name=name, channel=self.channel_id, timestamp=ts)
        )

    # ------------------------------------------------------------------ files shared in the thread

    async def file_info(self, file_id: str) -> Mapping[str, Any] | None:
        """files.info's file object, with the workspace's token; Slack's errors are the caller's to read."""
        response = await self.client.files_info(file=file_id)
        info = response.get("file")
        return info if isinstance(info, Mapping) and info.get("id") else None

    def download(self, url: str, *, max_bytes: int) -> AsyncIterator[bytes]:
        """A shared file's bytes, with the workspace's token, on the client's pooled HTTP session."""
        assert self.client.session is not None, "build_slack_client always gives the client a session"
        return stream_slack_file(self.client.session, url, self.client.token or "", max_bytes=max_bytes)


class SlackDelivery:
    """What every conversation of the process shares: the rate budget, whether Slack streams, and
    the optional calls in flight. Builds each turn's ``SlackConversation``."""

    def __init__(
        self,
        budget: SlackRateBudget | None = None,
        *,
        streaming: StreamingSupport | None = None,
        background: BackgroundCalls | None = None,
    ) -> None:
        # Slack's rate limits per workspace, shared by every reply (and told of every 429).
        self.budget = budget or SlackRateBudget()
        self.streaming = streaming or StreamingSupport()
        self.background = background or BackgroundCalls()

    def from_context(
        self, context: Mapping[str, Any], *, channel_id: str, thread_ts: str, user_id: str, surface: Surface
    ) -> SlackConversation:
        """The turn's conversation from Bolt's context: its client, and its utilities when they fit."""
        client: AsyncWebClient = context["client"]
        say_stream = context.get("say_stream")
        set_status = context.get("set_status")
        return SlackConversation(
            client=client,
            channel_id=channel_id,
            thread_ts=thread_ts,
            team_id=context.get("team_id"),
            enterprise_id=context.get("enterprise_id"),
            user_id=user_id,
            surface=surface,
            budget=self.budget,
            background=self.background,
            say_stream=say_stream if _same_thread(say_stream, "channel", channel_id, thread_ts) else None,  # type: ignore[arg-type]
            set_status=set_status if _same_thread(set_status, "channel_id", channel_id, thread_ts) else None,  # type: ignore[arg-type]
        )

    def for_message(self, context: Mapping[str, Any], message: CoachMessage) -> SlackConversation:
        """The conversation of a coach's message: its thread, in the workspace the request came from."""
        return self.from_context(
            context,
            channel_id=message.channel_id,
            thread_ts=message.thread_ts,
            user_id=message.user_id,
            surface=message.surface,
        )

    def for_thread(
        self,
        client: AsyncWebClient,
        *,
        channel_id: str,
        thread_ts: str,
        team_id: str | None,
        user_id: str | None,
        surface: Surface,
        enterprise_id: str | None = None,
    ) -> SlackConversation:
        """A conversation for work without a request, with a client from ``WorkspaceClients``."""
        return SlackConversation(
            client=client,
            channel_id=channel_id,
            thread_ts=thread_ts,
            team_id=team_id,
            enterprise_id=enterprise_id,
            user_id=user_id,
            surface=surface,
            budget=self.budget,
            background=self.background,
        )


def _same_thread(utility: object, channel_attribute: str, channel_id: str, thread_ts: str) -> bool:
    """Bolt binds its utilities to the event's thread; a turn may answer in another (a new session)."""
    return (
        utility is not None
        and getattr(utility, channel_attribute, None) == channel_id
        and getattr(utility, "thread_ts", None) == thread_ts
    )
