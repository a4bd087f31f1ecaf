"""The reply path of a coaching turn: the model's reply streamed into the thread, then stored and timed.

The coaching service (bot.conversation.coaching) builds the prompt and owns the thread's failure notes; this
streams the reply, ends it with a short note when the model fails, and keeps its books, so that a
failure to store or to measure is logged here and never breaks the reply the coach already sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import openai

from bot.conversation.llm import CoachModel, StreamStats
from bot.conversation.mentions import MentionFilter
from bot.conversation.prompt import PROMPT_VERSION
from bot.conversation.turn_values import (
    EMPTY_REPLY_TEXT,
    INTERRUPTED_NOTE,
    CoachMessage,
    TurnOutcome,
    failure_text,
)
from bot.conversation.turns import HeldLease, TurnLeases
from bot.delivery.conversation import SlackConversation
from bot.delivery.reply_message import SLACK_ERRORS
from bot.delivery.streaming import SlackReplyWriter, StreamingSupport, WriterStats
from bot.operations.timing import TurnTiming, TurnTimings, elapsed_ms
from bot.safety.crisis import LATE_LEAD_IN
from storage.conversations import ConversationStore, RecordedMessage
from storage.turn_leases import ReplyToStore

logger = logging.getLogger(__name__)

#: How long a finished reply waits for a crisis check still running before it is closed.
CRISIS_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class ReplyWriterOptions:
    """How every reply is written into Slack (bot.delivery.streaming), the same for each turn."""

    streaming: StreamingSupport
    flush_interval: float
    part_chars: int


class Replier:
    """Streams the model's reply into the thread, then stores it (under the session's lease or
    without one) and records how long the turn took."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        model: CoachModel,
        turns: TurnLeases | None,
        timings: TurnTimings,
        writer_options: ReplyWriterOptions,
        on_model_call: Callable[[StreamStats, bool], None] | None,
        on_model_error: Callable[[openai.APIError], None],
        on_slack_failure: Callable[[int, BaseException, SlackConversation, bool], Awaitable[None]],
        crisis_text: str = "",
        on_crisis: Callable[[], None] | None = None,
        custom_prompt: bool = False,
    ) -> None:
        self._store = store
        self._model = model
        self._turns = turns
        self._timings = timings
        self._writer_options = writer_options
        # Told about each model call once it is over (stats, failed): metrics, not the token loop.
        self._on_model_call = on_model_call
        # A failed model call may be a configuration error (the coaching service records it).
        self._on_model_error = on_model_error
        # Logs the Slack failure and tells the coach (session, error, conversation, coach told).
        self._on_slack_failure = on_slack_failure
        # The caring reply given in place of coaching when the crisis check flags the message.
        self._crisis_text = crisis_text
        # Counts a crisis reply (metrics); never told which session, nor anything of the text.
        self._on_crisis = on_crisis
        # Stored with each reply, so feedback is counted per prompt version (COACH_SYSTEM_PROMPT: "custom").
        self._prompt_version = "custom" if custom_prompt else PROMPT_VERSION

    async def reply(
        self,
        message: CoachMessage,
        recorded: RecordedMessage,
        prompt: list[dict[str, Any]],
        conversation: SlackConversation,
        *,
        crisis_check: Callable[[], Awaitable[bool]] | None = None,
        final_blocks: list[dict[str, Any]] | None = None,
        feedback_blocks: list[dict[str, Any]] | None = None,
    ) -> TurnOutcome:
        """Stream the model's reply into the thread, store it, and time the turn.

        ``final_blocks`` (memory's Wrap up button) go under the reply's last message, and under a
        coaching reply (not a crisis reply, nor a failure's note) ``feedback_blocks`` too: the
        feedback buttons, a press checked against the ``reply_ts`` stored with the reply.

        ``crisis_check`` asks the crisis check about the coach's message (bot.safety); it runs
        alongside the model, so it never delays the model's request or the first text. When it
        flags the message, the model is stopped and the reply is the caring message: alone if no
        text was shown yet, else after it (text already in Slack can't be unsaid, so the caring
        message follows it in the same reply). If the model finishes first, the reply waits up
        to CRISIS_WAIT_SECONDS for the verdict before it is closed; a check that fails or times
        out lets the coaching reply stand.
        """
        options = self._writer_options
        writer = SlackReplyWriter(
            conversation,
            streaming=options.streaming,
            flush_interval=options.flush_interval,
            part_chars=options.part_chars,
            final_blocks=final_blocks,
        )
        self._begin_reply(recorded, writer)
        stats = StreamStats()
        mentions = MentionFilter()
        reply: list[str] = []
        outcome = TurnOutcome.REPLIED
        rated = False  # the reply's last message carries the feedback buttons
        streaming = asyncio.ensure_future(self._stream(prompt, stats, mentions, reply, writer))
        # Started second, so the model's request is on its way before the check's is built.
        crisis = asyncio.ensure_future(crisis_check()) if crisis_check is not None else None
        if crisis is not None:  # a flag stops the model at once, before or after its first text
            crisis.add_done_callback(lambda check: _flagged(check) and streaming.cancel())
        try:
            try:
                tail = "" if await self._streamed(streaming, crisis) else mentions.flush()
                reply.append(tail)
                if await _verdict(crisis):
                    outcome = self._care(reply, writer)
                else:
                    note = stats.cut_off_note  # "" unless the model stopped short
                    writer.write(tail + note if _has_text(reply) else note.lstrip() or EMPTY_REPLY_TEXT)
                    if feedback_blocks and _has_text(reply):
                        writer.final_blocks = [*(final_blocks or []), *feedback_blocks]
                        rated = True
            except openai.APIError as error:
                logger.warning(
                    "Model call failed (session=%s, error=%s)", recorded.session_id, type(error).__name__
                )
                self._on_model_error(error)
                if await _verdict(crisis):  # care needs no model
                    outcome = self._care(reply, writer)
                else:
                    outcome = TurnOutcome.MODEL_FAILED
                    writer.write(INTERRUPTED_NOTE if _has_text(reply) else failure_text(error))
            writer_stats = await writer.close()
        except SLACK_ERRORS as error:
            await self._on_slack_failure(recorded.session_id, error, conversation, writer.stats.coach_told)
            self._timings.record_failure()
            await self._store_reply(recorded, "".join(reply), stats, None, message, failed=True)
            return TurnOutcome.SLACK_FAILED
        finally:
            streaming.cancel()  # a turn left early (a Slack failure, a shutdown) stops the model too
            if crisis is not None:
                crisis.cancel()
            await writer.cut(INTERRUPTED_NOTE)  # ends a stream the turn leaves early (no-op once closed)
            self._report_model_call(stats, failed=outcome is TurnOutcome.MODEL_FAILED)

        if outcome is TurnOutcome.CRISIS_CARE and self._on_crisis is not None:
            self._on_crisis()
        failed = outcome not in (TurnOutcome.REPLIED, TurnOutcome.CRISIS_CARE)
        await self._store_reply(
            recorded, "".join(reply), stats, writer_stats, message, failed=failed, rated=rated
        )
        self._record_timing(recorded.session_id, message, stats, writer_stats, failed=failed)
        return outcome

    def _care(self, reply: list[str], writer: SlackReplyWriter) -> TurnOutcome:
        """End the reply with the caring message (after what the model had already shown)."""
        care = (LATE_LEAD_IN if _has_text(reply) else "") + self._crisis_text
        reply.append(care)
        writer.write(care)
        return TurnOutcome.CRISIS_CARE

    async def _stream(
        self,
        prompt: list[dict[str, Any]],
        stats: StreamStats,
        mentions: MentionFilter,
        reply: list[str],
        writer: SlackReplyWriter,
    ) -> None:
        """The model's reply into the writer, piece by piece, with nobody pinged."""
        async with contextlib.aclosing(self._model.stream_reply(prompt, stats)) as pieces:
            async for piece in pieces:
                safe = mentions.feed(piece)
                reply.append(safe)
                writer.write(safe)

    async def _streamed(self, streaming: asyncio.Future[None], crisis: asyncio.Future[bool] | None) -> bool:
        """Wait for the model's reply; True when a crisis flag stopped it (not the turn's own cancel)."""
        try:
            await streaming
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if crisis is None or not _flagged(crisis) or (current is not None and current.cancelling()):
                raise
            return True
        return False

    async def _store_reply(
        self,
        recorded: RecordedMessage,
        text: str,
        stats: StreamStats,
        writer_stats: WriterStats | None,
        message: CoachMessage,
        *,
        failed: bool,
        rated: bool = False,
    ) -> None:
        """Store the reply (with the messages it answered, under a lease) or at least say it failed.

        ``rated``: the reply's last message carries the feedback buttons; its ts is ``reply_ts``.
        """
        first_ts = writer_stats.message_ts[0] if writer_stats and writer_stats.message_ts else None
        reply_ts = writer_stats.message_ts[-1] if rated and writer_stats and writer_stats.message_ts else None
        written_by = {
            "reply_ts": reply_ts,
            "model": getattr(self._model, "name", None),
            "prompt_version": self._prompt_version,
        }
        latency = elapsed_ms(message.received_at, stats.last_token_at)
        latency_ms = round(latency) if latency is not None else None
        note = "reply failed" if failed else None
        if note is None and stats.cut_off_note:
            note = f"reply cut off: {stats.finish_reason}"
        held = self._held(recorded)
        try:
            if held is not None and self._turns is not None:
                # The reply and the coach messages it answered, in one write.
                reply = ReplyToStore(
                    text=text,
                    slack_ts=first_ts,
                    prompt_tokens=stats.prompt_tokens,
                    completion_tokens=stats.completion_tokens,
                    latency_ms=latency_ms,
                    note=note,
                    **written_by,
                )
                await self._turns.finish(held, reply)
                return
            if text:
                await self._store.record_assistant_message(
                    recorded.session_id,
                    slack_ts=first_ts,
                    text=text,
                    prompt_tokens=stats.prompt_tokens,
                    completion_tokens=stats.completion_tokens,
                    latency_ms=latency_ms,
                    **written_by,
                )
            if note is not None:
                await self._store.record_system_message(recorded.session_id, note)
        except Exception:
            logger.exception("Could not store the reply (session=%s)", recorded.session_id)

    def _held(self, recorded: RecordedMessage) -> HeldLease | None:
        """The lease this process holds on the reply's session, if it runs under one."""
        return (
            None if self._turns is None or not recorded.leased else self._turns.held.get(recorded.session_id)
        )

    def _begin_reply(self, recorded: RecordedMessage, writer: SlackReplyWriter) -> None:
        """Let the session's lease record the reply's stream, and lead with "I was restarted" if due."""
        held = self._held(recorded)
        if held is None or self._turns is None:
            return
        self._turns.watch(held, writer)
        if held.lead_in:
            writer.write(held.lead_in)
            held.lead_in = ""

    def _record_timing(
        self, session_id: int, message: CoachMessage, stats: StreamStats, writer: WriterStats, *, failed: bool
    ) -> None:
        """The turn's latencies for /perf and the bench, and one ``Turn done`` line (no message text)."""
        timing = TurnTiming(
            event_to_model_ms=elapsed_ms(message.received_at, stats.request_sent_at),
            first_token_to_slack_ms=elapsed_ms(stats.first_token_at, writer.first_text_sent_at),
            last_token_to_final_ms=elapsed_ms(stats.last_token_at, writer.final_call_done_at),
            model_ms=elapsed_ms(stats.request_sent_at, stats.last_token_at),
            total_ms=elapsed_ms(message.received_at, writer.final_call_done_at),
        )
        if failed:
            self._timings.record_failure()
        else:
            self._timings.record(timing)
        logger.info(
            "Turn done session=%s surface=%s event_to_model_ms=%s first_token_to_slack_ms=%s "
            "last_token_to_final_ms=%s model_ms=%s completion_tokens=%s slack_calls=%s finish_reason=%s",
            session_id,
            message.surface.value,
            timing.event_to_model_ms,
            timing.first_token_to_slack_ms,
            timing.last_token_to_final_ms,
            timing.model_ms,
            stats.completion_tokens,
            writer.slack_calls,
            stats.finish_reason,
        )

    def _report_model_call(self, stats: StreamStats, *, failed: bool) -> None:
        """Tell the metrics about the model call, once it is over (never from the token loop)."""
        if self._on_model_call is None:
            return
        try:
            self._on_model_call(stats, failed)
        except Exception:  # metrics must never break a turn
            logger.exception("Recording the model call's metrics failed")


def _flagged(check: asyncio.Future[bool]) -> bool:
    return check.done() and not check.cancelled() and check.exception() is None and check.result()


async def _verdict(crisis: asyncio.Future[bool] | None) -> bool:
    """Whether the crisis check flagged the message, waiting up to CRISIS_WAIT_SECONDS for it."""
    if crisis is None:
        return False
    try:
        return await asyncio.wait_for(asyncio.shield(crisis), CRISIS_WAIT_SECONDS)
    except (TimeoutError, asyncio.CancelledError):
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        return False


def _has_text(pieces: list[str]) -> bool:
    return any(piece.strip() for piece in pieces)
