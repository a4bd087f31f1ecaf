"""What the emulator records and answers: calls, messages, deliveries, and Slack's ok:false error."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


class SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": ...}`` (HTTP 200, like Slack)."""

    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class RecordedCall:
    """One Web API call as the emulator received it (``token`` removed from args)."""

    method: str
    args: dict[str, Any]
    at: float  # time.perf_counter() on arrival
    wall: float  # time.time() on arrival
    status: int = 200  # HTTP status answered
    error: str | None = None  # Slack ``error`` answered, None when ok
    token: str | None = None  # the token it was made with (which workspace's, for tests)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Message:
    """A message in the emulator's store; bot messages carry ``bot_id``."""

    ts: str
    channel: str
    thread_ts: str | None
    text: str
    user: str | None = None
    bot_id: str | None = None
    streaming: bool = False  # started with chat.startStream and neither stopped nor expired
    stopped: bool = False  # chat.stopStream finished it (an expired stream never was)
    expired: bool = False  # Slack ended the stream itself after a quiet spell
    last_append_at: float = 0.0  # emulator clock of the stream's start or last append
    updates: int = 0  # edits after creation: chat.update, chat.appendStream, chat.stopStream
    blocks: list[Any] | None = None
    files: list[dict[str, Any]] | None = None  # shared with files.completeUploadExternal

    @property
    def is_bot(self) -> bool:
        return self.bot_id is not None

    def to_slack(self) -> dict[str, Any]:
        """The message as Slack's API returns it (conversations.*, chat.* ``message``)."""
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.user is not None:
            out["user"] = self.user
        if self.bot_id is not None:
            out["bot_id"] = self.bot_id
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if self.blocks:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = self.files
        return out


@dataclass
class Delivery:
    """What the app answered to one request the emulator sent it (headers lower-cased)."""

    status: int  # 0 when no HTTP answer arrived (see ``error``)
    body: bytes
    headers: dict[str, str]
    elapsed_ms: float
    error: str | None = None  # Slack retry reason when no answer: "http_timeout", "connection_failed"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class ResponseUrlPost:
    """A payload the app POSTed to a slash command's response_url."""

    response_id: str
    body: Any
    at: float
    wall: float
