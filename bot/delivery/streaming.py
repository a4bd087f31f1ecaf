"""Stream a reply into a Slack thread as the model writes it, within Slack's rate limits.

The model produces tokens faster than Slack should be called, and a Slack call
takes longer than a token. So the model side only appends to a buffer
(``write`` never waits), and one writer task per reply sends whatever has
piled up: the first text at once, then at most one append per flush interval,
and the rest with chat.stopStream the moment the reply ends.

Each Slack message of a reply (a *part*; ``bot.delivery.reply_parts`` decides where one
ends) is streamed, posted at its first text and edited once at the end, or posted whole, as
the workspace's budget allows (``bot.delivery.reply_modes`` says which, and why); a workspace
that cannot stream at all is posted and edited at most once a second. Nothing is refused for a
rate limit: the budget waits, slack_sdk's retry handler waits out a 429.

Every stream is stopped on every path: when an append fails, with a short note
saying so; when the turn ends early (``cut``), with the caller's note. When
Slack has lost a stream (it expired, or was stopped or deleted), the rest of
the reply continues in a new message, never in an edit of the streaming one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_chat_stream import AsyncChatStream

from bot.delivery.conversation import SlackConversation
from bot.delivery.reply_message import (
    RATE_LIMITED,
    SLACK_ERRORS,
    STREAM_LOST,
    STREAMING_UNAVAILABLE,
    Mode,
    Part,
    WriterStats,
    error_code,
)
from bot.delivery.reply_modes import StreamingSupport, choose_mode
from bot.delivery.reply_parts import FENCE, find_break
from bot.delivery.reply_posting import FALLBACK_UPDATE_INTERVAL, ThreadPoster
from bot.delivery.slack_budget import APPEND_STREAM, STOP_STREAM

logger = logging.getLogger(__name__)

#: Slack's limit on markdown_text, per call and per posted message.
MARKDOWN_TEXT_LIMIT = 12_000
STOP_ATTEMPTS = 3
MIN_RETRY = 0.05  # seconds: how soon held text is tried again when the append budget is spent
SLACK_TROUBLE_NOTE = (
    "\n\n_(Slack had trouble showing the rest of this reply. Your message is saved; please ask again.)_"
)
CUT_NOTE = "\n\n_(My reply was cut off here.)_"


class SlackReplyWriter:
    """Writes one reply into one thread; see the module docstring."""

    def __init__(
        self,
        conversation: SlackConversation,
        *,
        streaming: StreamingSupport,
        flush_interval: float,
        part_chars: int,
        final_blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        self._conversation = conversation
        self._target = conversation.target
        # Blocks under the reply's last message, however it is written (``Part.blocks``): a reply
        # that ends whole, not one cut short, gets them. The replier may set them until it closes.
        self.final_blocks = final_blocks
        self._streaming = streaming
        self._flush_interval = flush_interval
        # Room beyond a part's size to find a good break and to close a code block, within Slack's limit.
        self._part_chars = max(1, min(part_chars, MARKDOWN_TEXT_LIMIT - len(FENCE) - 1))
        self._budget = conversation.budget
        # Slack's limits are per app per workspace: the conversation's team.
        self._workspace = conversation.workspace
        self.stats = WriterStats()
        self._poster = ThreadPoster(conversation, self.stats)
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._cut_note: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._part = Part()
        self._stream_was_lost = False
        self._waiting_for_budget = False
        self._last_send = 0.0

    @property
    def open_message_ts(self) -> str | None:
        """The Slack message streaming right now, if any: a turn lease records it for recovery."""
        part = self._part
        return part.stream.ts if part.started and not part.finished and part.stream else None

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

    async def cut(self, note: str = CUT_NOTE) -> None:
        """End a reply that will not be finished: what was written, then ``note``. Never raises.

        A no-op once the reply is closed, and when nothing was written yet.
        """
        if self._task is None or self._task.done():
            return
        self._cut_note = note
        self._closing.set()
        self._wake.set()
        try:
            await asyncio.shield(self._task)
        except Exception as error:  # already logged by the turn when it matters; the stream is closed
            logger.debug("Cutting the reply short failed: %s", type(error).__name__)

    # ------------------------------------------------------------------ the writer task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                closing = self._closing.is_set()
                if self._pending or closing:
                    text = "".join(self._pending)
                    self._pending.clear()
                    if closing and self._cut_note:
                        text += self._cut_note
                    held = await self._deliver(text, final=closing)
                    if held:
                        self._pending.insert(0, held)
                if closing:
                    self.stats.final_call_done_at = time.perf_counter()
                    return
                pause = self._last_send + self._interval() - loop.time()
                if self._waiting_for_budget:  # held text goes once the workspace may append again
                    pause = max(pause, self._budget.wait_time(self._workspace, APPEND_STREAM), MIN_RETRY)
                if pause > 0 and not self._closing.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), pause)
                if self._pending and self._waiting_for_budget:
                    self._wake.set()  # text held for a break waits for more text instead
        except asyncio.CancelledError:
            await self._close_open_stream(self._cut_note or CUT_NOTE)
            raise
        except BaseException:
            await self._close_open_stream(SLACK_TROUBLE_NOTE)
            raise
        finally:
            self._release(self._part)

    def _interval(self) -> float:
        if self._part.mode is Mode.STREAM:
            return self._budget.append_interval(self._workspace, self._flush_interval)
        if self._part.mode is Mode.EDIT:
            return FALLBACK_UPDATE_INTERVAL
        return self._flush_interval

    async def _deliver(self, text: str, *, final: bool) -> str:
        """Send ``text``, in as many messages as it needs; returns what must wait for the next round."""
        self._waiting_for_budget = False
        while True:
            part = self._part
            room = self._part_chars - part.length
            if len(text) <= room:
                if final:
                    await self._end_part(text, last=True)
                    return ""
                return await self._add(text)
            hard_room = MARKDOWN_TEXT_LIMIT - part.length - len(FENCE) - 1
            cut = find_break(part.text, text, room=room, hard_room=hard_room, final=final)
            if cut is None:
                return text  # the message is nearly full: wait for the text that ends it well
            rest = cut.reopen + text[cut.at :]
            await self._end_part(
                text[: cut.at] + cut.close, last=final and not rest
            )  # the reply may end here
            text = rest
            if not text:
                return ""

    async def _add(self, text: str) -> str:
        """Add ``text`` to the current message; returns it when it has to wait (no append budget yet)."""
        if not text:
            return ""
        part = self._part
        if part.mode is None:
            self._choose_mode(part)
        if part.mode is Mode.STREAM:
            if part.started and not self._budget.try_take(self._workspace, APPEND_STREAM):
                self._waiting_for_budget = True
                return text  # the next append or the stop carries it
            self._last_send = asyncio.get_running_loop().time()
            part.add(text)
            await self._append(part, text)
        elif part.mode is Mode.EDIT:
            self._last_send = asyncio.get_running_loop().time()
            part.add(text)
            await self._edit(part, final=False)
        else:
            part.add(text)
        return ""

    def _choose_mode(self, part: Part, *, final: bool = False, may_stream: bool = True) -> None:
        choose_mode(
            part,
            self._budget,
            self._workspace,
            self._target.channel_id,
            streaming=self._streaming,
            may_stream=may_stream and not self._stream_was_lost,
            final=final,
        )

    async def _end_part(self, text: str, *, last: bool = False) -> None:
        """Finish the current message with ``text`` as its last words; the next text starts a new one."""
        part = self._part
        if part.mode is None:
            if not text:
                return
            self._choose_mode(part, final=True)
        part.add(text)
        if last and not self._cut_note:
            part.blocks = self.final_blocks
        if part.mode is Mode.STREAM:
            await self._stop(part, text)
        elif part.mode is Mode.EDIT:
            await self._edit(part, final=True)
        else:
            await self._post_whole(part)
        self._part = Part()

    # ------------------------------------------------------------------ streamed messages

    async def _append(self, part: Part, text: str) -> None:
        self.stats.slack_calls += 1
        self._mark_first_text()
        try:
            await (await self._stream_of(part)).append(markdown_text=text)
        except SlackApiError as error:
            await self._stream_failed(part, error_code(error), error)
            return
        except SLACK_ERRORS:
            if part.started:
                await self._stop_with_note(part, SLACK_TROUBLE_NOTE)
            raise
        part.confirm()

    async def _stream_failed(
        self, part: Part, code: str, error: SlackApiError, *, final: bool = False
    ) -> None:
        """An append (or the start it began with) was refused: go on the way Slack still allows.

        ``final``: the refused call was the stop that would have carried the whole message.
        """
        if not part.started:
            self._release(part)
            part.stream = None
            if code in STREAMING_UNAVAILABLE:
                self._streaming.disable(code)
                part.mode = Mode.EDIT
                await self._edit(part, final=False)
                return
            if code in RATE_LIMITED:  # the first text in a post to edit once, or posted once complete
                self._choose_mode(part, final=final, may_stream=False)
                if part.mode is Mode.EDIT:
                    await self._edit(part, final=False)
                return
            raise error
        if code in STREAM_LOST:
            self._continue_in_new_message(part, code)
            return
        if code in RATE_LIMITED:
            return  # chat_stream keeps the text: the next append or the stop sends it
        await self._stop_with_note(part, SLACK_TROUBLE_NOTE)
        raise error

    async def _stop(self, part: Part, text: str) -> None:
        """chat.stopStream with the last text (and the part's blocks); paid for when the stream started."""
        for attempt in range(STOP_ATTEMPTS):
            self.stats.slack_calls += 1
            self._mark_first_text()
            try:
                stream = await self._stream_of(part)
                await stream.stop(markdown_text=(text if attempt == 0 else None) or None, blocks=part.blocks)
            except SlackApiError as error:
                code = error_code(error)
                if not part.started:  # the stream never started: stop() began with startStream
                    await self._stream_failed(part, code, error, final=True)
                    await self._end_part_again(part)
                    return
                if code in STREAM_LOST:
                    self._continue_in_new_message(part, code)
                    await self._end_part_again(self._part)
                    return
                if attempt + 1 == STOP_ATTEMPTS:
                    raise
                if code in RATE_LIMITED:
                    await self._budget.take(self._workspace, STOP_STREAM)
                continue  # chat_stream kept the text; the next stop() sends it
            except SLACK_ERRORS:
                if attempt + 1 == STOP_ATTEMPTS or not part.started:
                    raise
                continue
            part.confirm()
            self._finished(part, str(stream.ts))
            self.stats.streamed_parts += 1
            return

    async def _end_part_again(self, part: Part) -> None:
        """Finish ``part`` the way it is written now, after its stream fell through."""
        if part.mode is Mode.EDIT:
            await self._edit(part, final=True)
        elif part.length:
            await self._post_whole(part)

    def _continue_in_new_message(self, part: Part, code: str) -> None:
        """Slack lost the stream: it shows what it confirmed; the rest goes into a new message."""
        logger.info("Slack lost a reply stream (%s); the reply continues in a new message", code)
        self._finished(part, str(part.stream.ts if part.stream else ""))
        self._stream_was_lost = True
        rest = part.unconfirmed
        self._part = Part(mode=Mode.WHOLE, blocks=part.blocks)
        self._part.add(rest)

    async def _stop_with_note(self, part: Part, note: str) -> None:
        """Close a stream whose reply cannot go on, saying so. Never raises."""
        for _ in range(2):
            try:
                self.stats.slack_calls += 1
                await (await self._stream_of(part)).stop(markdown_text=note)
                self.stats.coach_told = True
                break
            except SLACK_ERRORS as error:
                if isinstance(error, SlackApiError) and error_code(error) in STREAM_LOST:
                    break
                logger.warning("Could not stop a reply stream: %s", type(error).__name__)
        self._finished(part, str(part.stream.ts if part.stream else ""))

    async def _close_open_stream(self, note: str) -> None:
        """On the way out of a failed or cancelled writer: no stream stays open, no part unposted."""
        part = self._part
        with contextlib.suppress(Exception):
            if part.mode is Mode.STREAM and part.started and not part.finished:
                await self._stop_with_note(part, note)
            elif part.mode is Mode.WHOLE and part.length and not part.finished:
                part.add(note)
                await self._post_whole(part)

    async def _post_whole(self, part: Part) -> None:
        self._finished(part, await self._poster.post_whole(part))

    async def _edit(self, part: Part, *, final: bool) -> None:
        await self._poster.edit(part, final=final)
        if final:
            self._finished(part, str(part.edit_ts))
            self.stats.edited_parts += 1

    # ------------------------------------------------------------------ bookkeeping

    async def _stream_of(self, part: Part) -> AsyncChatStream:
        if part.stream is None:
            # Bolt's say_stream (slack_sdk's chat_stream, bound to the thread and its recipient).
            part.stream = await self._conversation.say_stream(buffer_size=1)
        return part.stream

    def _finished(self, part: Part, ts: str) -> None:
        part.finished = True
        self.stats.message_ts.append(ts)
        self._release(part)

    def _release(self, part: Part) -> None:
        if part.counted:
            part.counted = False
            self._budget.stream_closed(self._workspace)

    def _mark_first_text(self) -> None:
        self._poster.mark_first_text()
