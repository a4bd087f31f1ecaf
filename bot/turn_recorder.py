"""What a reply leaves behind: the stored reply, the turn's timing, the model call's metrics.

The coaching turn streams the reply; this keeps its books, so that a failure to store or to
measure is logged here and never breaks the reply the coach already sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.llm import StreamStats
from bot.streaming import SlackReplyWriter, WriterStats
from bot.timing import TurnTiming, TurnTimings, elapsed_ms
from bot.turn_values import CoachMessage
from bot.turns import HeldLease, TurnLeases
from storage.conversations import ConversationStore, RecordedMessage
from storage.turn_leases import ReplyToStore

logger = logging.getLogger(__name__)


class TurnRecorder:
    """Stores each reply under the session's lease (or without one) and records how long it took."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        turns: TurnLeases | None,
        timings: TurnTimings,
        on_model_call: Callable[[StreamStats, bool], None] | None,
    ) -> None:
        self._store = store
        self._turns = turns
        self._timings = timings
        self._on_model_call = on_model_call

    async def store_reply(
        self,
        recorded: RecordedMessage,
        text: str,
        stats: StreamStats,
        writer_stats: WriterStats | None,
        message: CoachMessage,
        *,
        failed: bool,
    ) -> None:
        """Store the reply (with the messages it answered, under a lease) or at least say it failed."""
        first_ts = writer_stats.message_ts[0] if writer_stats and writer_stats.message_ts else None
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

    def begin_reply(self, recorded: RecordedMessage, writer: SlackReplyWriter) -> None:
        """Let the session's lease record the reply's stream, and lead with "I was restarted" if due."""
        held = self._held(recorded)
        if held is None or self._turns is None:
            return
        self._turns.watch(held, writer)
        if held.lead_in:
            writer.write(held.lead_in)
            held.lead_in = ""

    def record_timing(
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

    def report_model_call(self, stats: StreamStats, *, failed: bool) -> None:
        """Tell the metrics about the model call, once it is over (never from the token loop)."""
        if self._on_model_call is None:
            return
        try:
            self._on_model_call(stats, failed)
        except Exception:  # metrics must never break a turn
            logger.exception("Recording the model call's metrics failed")
