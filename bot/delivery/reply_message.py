"""One Slack message of a reply (a part), as the reply writer keeps track of it, and where it goes."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import MarkdownBlock
from slack_sdk.web.async_chat_stream import AsyncChatStream

#: What a Slack call can raise: Slack's answer, the SDK's own errors, the network, a timeout
#: (the one copy: bot.conversation.coaching's turn boundary and bot.attachments.service catch the same four).
SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError)


def slack_error_name(error: BaseException) -> str:
    """An error for a log line: its class, and Slack's error code when Slack answered (never text)."""
    if isinstance(error, SlackApiError):
        return f"{type(error).__name__}:{error.response.get('error')}"
    return type(error).__name__


async def best_effort(call: Awaitable[Any]) -> None:
    """Await an optional Slack call (a status, a reaction); its failure is only worth a DEBUG line."""
    try:
        await call
    except SLACK_ERRORS as error:
        logging.getLogger(__name__).debug("Optional Slack call failed: %s", slack_error_name(error))


# Errors that mean "this workspace or token cannot stream": use post + update.
STREAMING_UNAVAILABLE = frozenset(
    {
        "unknown_method",
        "method_deprecated",
        "not_allowed_token_type",
        "feature_not_enabled",
        "missing_scope",
        "not_implemented",
    }
)
# Errors on an open stream that mean Slack no longer has it: the reply goes on in a new message.
STREAM_LOST = frozenset({"message_not_in_streaming_state", "streaming_state_conflict", "message_not_found"})

RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})


@dataclass(frozen=True)
class ThreadTarget:
    """Where a reply goes, and who it is for (Slack wants both to stream in channels)."""

    channel_id: str
    thread_ts: str
    team_id: str | None
    user_id: str | None


@dataclass
class WriterStats:
    first_text_sent_at: float | None = None
    final_call_done_at: float | None = None
    slack_calls: int = 0
    message_ts: list[str] = field(default_factory=list)
    streamed_parts: int = 0
    posted_parts: int = 0  # posted whole (the streaming budget was spent, or a stream was lost)
    edited_parts: int = 0  # posted at the first text, then completed with chat.update
    # The coach was told in the thread that the reply is incomplete (a note closed the stream).
    coach_told: bool = False


class Mode(enum.Enum):
    """How a message is written; chosen when its first text is sent."""

    STREAM = "stream"  # chat.startStream / appendStream / stopStream
    WHOLE = "whole"  # one chat.postMessage once the message is complete
    EDIT = "edit"  # chat.postMessage at the first text, then chat.update (see Part.one_edit)


@dataclass
class Part:
    """The message's text, what Slack has confirmed of it, and how it is being written."""

    mode: Mode | None = None
    stream: AsyncChatStream | None = None
    edit_ts: str | None = None
    last_edit: float = 0.0
    counted: bool = False  # counted among the workspace's open streams
    # Streaming budget spent: the post and ONE chat.update at the end were paid for up front, and
    # nothing is edited in between. (False: a workspace that cannot stream, edited once a second.)
    one_edit: bool = False
    finished: bool = False
    # Blocks under the message once it is complete: set on a reply's last part (its buttons).
    blocks: list[dict[str, Any]] | None = None
    _pieces: list[str] = field(default_factory=list)
    length: int = 0
    _confirmed: int = 0

    def add(self, text: str) -> None:
        if text:
            self._pieces.append(text)
            self.length += len(text)

    @property
    def text(self) -> str:
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    @property
    def unconfirmed(self) -> str:
        """Text added that Slack has not acknowledged yet."""
        return self.text[self._confirmed :]

    def confirm(self) -> None:
        self._confirmed = self.length

    @property
    def started(self) -> bool:
        """The stream exists at Slack (chat.startStream succeeded)."""
        return self.stream is not None and self.stream.ts is not None


def message_body(text: str, blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A complete message's arguments for chat.postMessage or chat.update: its markdown, and blocks.

    ``markdown_text`` can't go with ``blocks`` (the methods' pages), so a message with blocks
    carries its markdown in a ``markdown`` block first, and the same text as ``text``, the
    notification fallback.
    """
    if not blocks:
        return {"markdown_text": text}
    return {"text": text, "blocks": [MarkdownBlock(text=text).to_dict(), *blocks]}


def error_code(error: SlackApiError) -> str:
    return str(error.response.get("error", "") or "")
