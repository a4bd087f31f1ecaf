"""Stream a reply into a Slack thread as the model writes it.

The model produces tokens faster than Slack should be called, and a Slack call
takes longer than a token. So the model side only appends to a buffer
(``write`` never waits), and one writer task per reply sends whatever has
piled up: the first text at once, then at most one call per flush interval,
and the rest the moment the reply ends.

Slack's streaming API (chat.startStream/appendStream/stopStream, through
slack_sdk's ``chat_stream``) is used when the workspace has it. Otherwise, or
when a stream expires, the reply is posted once and then edited with
chat.update at most once a second. A reply longer than one Slack message is
continued in a new message in the same thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

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
# Errors on an open stream that chat.update on the same message can recover from.
STREAM_LOST = frozenset({"message_not_in_streaming_state", "streaming_state_conflict", "message_not_found"})

FALLBACK_UPDATE_INTERVAL = 1.0


@dataclass(frozen=True)
class ThreadTarget:
    """Where a reply goes, and who it is for (Slack wants both to stream in channels)."""

    channel_id: str
    thread_ts: str
    team_id: str | None
    user_id: str | None


class StreamingSupport:
    """Remembers, per process, that Slack refused streaming, so later replies skip it."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def disable(self, reason: str) -> None:
        if self.enabled:
            logger.warning("Slack streaming unavailable (%s); falling back to post and update", reason)
        self.enabled = False


@dataclass
class WriterStats:
    first_text_sent_at: float | None = None
    final_call_done_at: float | None = None
    slack_calls: int = 0
    message_ts: list[str] = field(default_factory=list)


def split_for_room(text: str, room: int) -> tuple[str, str]:
    """Split ``text`` so the head fits in ``room`` characters, at a line or word break when one is near."""
    if len(text) <= room:
        return text, ""
    window = text[:room]
    for separator in ("\n\n", "\n", " "):
        cut = window.rfind(separator)
        if cut >= room // 2:
            return text[: cut + len(separator)], text[cut + len(separator) :]
    return window, text[room:]


class SlackReplyWriter:
    """Writes one reply into one thread; see the module docstring."""

    def __init__(
        self,
        client: AsyncWebClient,
        target: ThreadTarget,
        *,
        streaming: StreamingSupport,
        flush_interval: float,
        part_chars: int,
    ) -> None:
        self._client = client
        self._target = target
        self._streaming = streaming
        self._flush_interval = flush_interval
        self._part_chars = part_chars
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The Slack message being written: its text so far and how it is written.
        self._part_text: list[str] = []
        self._part_len = 0
        self._stream: AsyncChatStream | None = None
        self._update_ts: str | None = None
        self._update_dirty = False
        self._last_update = 0.0
        self._last_send = 0.0
        self.stats = WriterStats()

    @property
    def open_message_ts(self) -> str | None:
        """The Slack message streaming right now, if any: a turn lease records it for recovery."""
        return None if self._stream is None else self._stream.ts

    def write(self, text: str) -> None:
        """Queue text for the thread. Never waits; raises if the writer has failed."""
        if not text:
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="slack-reply-writer")
        elif self._task.done() and self._task.exception() is not None:
            raise self._task.exception()  # type: ignore[misc]
        self._pending.append(text)
        self._wake.set()

    async def close(self) -> WriterStats:
        """Send what is left, finish the message(s), and return what was done."""
        if self._task is None:
            return self.stats
        self._closing.set()
        self._wake.set()
        await self._task
        return self.stats

    def abandon(self) -> None:
        """Stop the writer task if a failure elsewhere ends the reply early (no-op once closed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            closing = self._closing.is_set()
            if self._pending or closing:
                text = "".join(self._pending)
                self._pending.clear()
                await self._send(text, final=closing)
            if closing:
                self.stats.final_call_done_at = time.perf_counter()
                return
            interval = self._flush_interval if self._streaming_mode else FALLBACK_UPDATE_INTERVAL
            pause = self._last_send + interval - loop.time()
            if pause > 0 and not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), pause)

    @property
    def _streaming_mode(self) -> bool:
        return self._streaming.enabled and self._update_ts is None

    async def _send(self, text: str, *, final: bool) -> None:
        """Send ``text``, in as many messages as it needs; ``final`` ends the reply with its last piece."""
        self._last_send = asyncio.get_running_loop().time()
        while True:
            room = self._part_chars - self._part_len
            if room <= 0:
                await self._finish_part()
                room = self._part_chars
            piece, text = split_for_room(text, room)
            if piece and self.stats.first_text_sent_at is None:
                self.stats.first_text_sent_at = time.perf_counter()
            if final and not text:
                await self._finish_part(piece)  # the last text rides on the closing call
                return
            await self._append(piece)
            if not text:
                return

    async def _append(self, piece: str) -> None:
        self._add_to_part(piece)
        if self._streaming_mode:
            try:
                await self._open_stream()
                self.stats.slack_calls += 1
                await self._stream.append(markdown_text=piece)  # type: ignore[union-attr]
                return
            except SlackApiError as error:
                self._leave_streaming(error)
        await self._update_message(final=False)

    async def _finish_part(self, last_piece: str = "") -> None:
        """End the current Slack message, sending ``last_piece`` with the closing call."""
        self._add_to_part(last_piece)
        if self._streaming_mode and (self._stream is not None or self._part_len):
            try:
                await self._open_stream()
                self.stats.slack_calls += 1
                await self._stream.stop(markdown_text=last_piece or None)  # type: ignore[union-attr]
                self.stats.message_ts.append(str(self._stream.ts))  # type: ignore[union-attr]
                self._start_new_part()
                return
            except SlackApiError as error:
                self._leave_streaming(error)
        if self._part_len:
            if last_piece or self._update_dirty or self._update_ts is None:
                await self._update_message(final=True)
            self.stats.message_ts.append(str(self._update_ts))
        self._start_new_part()

    async def _open_stream(self) -> None:
        if self._stream is None:
            self._stream = await self._client.chat_stream(
                buffer_size=1,
                channel=self._target.channel_id,
                thread_ts=self._target.thread_ts,
                recipient_team_id=self._target.team_id,
                recipient_user_id=self._target.user_id,
            )

    def _leave_streaming(self, error: SlackApiError) -> None:
        """Switch to post-and-edit when Slack cannot stream here; re-raise anything else."""
        code = error.response.get("error", "")
        if self._stream is None or self._stream.ts is None:
            if code not in STREAMING_UNAVAILABLE:
                raise error
            self._streaming.disable(code)
        elif code in STREAM_LOST:
            logger.info("Slack stream lost (%s); continuing with chat.update", code)
            self._update_ts = self._stream.ts
        else:
            raise error
        self._stream = None

    def _add_to_part(self, piece: str) -> None:
        if piece:
            self._part_text.append(piece)
            self._part_len += len(piece)

    def _start_new_part(self) -> None:
        self._stream = None
        self._update_ts = None
        self._update_dirty = False
        self._part_text.clear()
        self._part_len = 0

    async def _update_message(self, *, final: bool) -> None:
        """Post-and-edit path: post the first piece, then edit at most once a second."""
        text = "".join(self._part_text)
        if self._update_ts is None:
            self.stats.slack_calls += 1
            response = await self._client.chat_postMessage(
                channel=self._target.channel_id, thread_ts=self._target.thread_ts, markdown_text=text
            )
            self._update_ts = response["ts"]
            self._last_update = time.monotonic()
            self._update_dirty = False
            return
        self._update_dirty = True
        if final or time.monotonic() - self._last_update >= FALLBACK_UPDATE_INTERVAL:
            self.stats.slack_calls += 1
            await self._client.chat_update(
                channel=self._target.channel_id, ts=self._update_ts, markdown_text=text
            )
            self._last_update = time.monotonic()
            self._update_dirty = False
