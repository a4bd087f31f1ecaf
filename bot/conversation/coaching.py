"""The coaching turn: store the coach's message, ask the model, stream the reply.

Every Slack surface (DM, channel thread, agent panel) ends up here through a
thin listener in ``handlers/``. The turn runs as an asyncio task, so a reply
that streams for a minute holds no thread and no connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import openai

from bot.assembly.config import Settings
from bot.attachments.file_listing import is_files_command
from bot.attachments.reading import AttachmentReader, StoredFile
from bot.attachments.service import AttachmentService, confirmation_text, problems_text
from bot.attachments.turn_files import file_context, turn_images
from bot.conversation.bystanders import tell_bystander_once
from bot.conversation.llm import CoachModel, StreamStats
from bot.conversation.model_reply import Replier, ReplyWriterOptions
from bot.conversation.prompt import DEFAULT_SYSTEM_PROMPT, ImageInput, Reference, build_messages, history_rows
from bot.conversation.turn_tasks import RunningTurns
from bot.conversation.turn_values import (
    NOT_STORED_TEXT,
    NOTHING_TO_READ_TEXT,
    RESTARTED_LEAD_IN,
    SLACK_FAILED_TEXT,
    STALE_STREAM_NOTE,
    UNEXPECTED_TEXT,
    CoachMessage,
    Surface,
    TurnOutcome,
)
from bot.conversation.turns import HeldLease, TurnLeases
from bot.delivery.conversation import SlackConversation, SlackDelivery
from bot.delivery.reply_message import slack_error_name
from bot.operations.config_errors import openai_problem
from bot.operations.health import ConfigHealth
from bot.operations.timing import TurnTimings
from bot.safety.crisis import crisis_text
from bot.safety.moderation import CrisisCheck
from storage.conversations import Bystander, ConversationStore, RecordedMessage, SessionKey
from storage.memory_records import Coach

if TYPE_CHECKING:  # memory and feedback are handed in at assembly; coaching never imports a capability
    from bot.feedback.service import FeedbackService
    from bot.memory.service import MemoryService

logger = logging.getLogger(__name__)

#: Excerpts of the session's files get up to 1/ATTACHMENT_SHARE of CONTEXT_TOKEN_BUDGET; history the rest.
ATTACHMENT_SHARE = 3
TITLE_CHARS = 60
THINKING_STATUS = "is thinking…"


class CoachingService:
    """Runs coaching turns. One instance per process, shared by all listeners."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: ConversationStore,
        model: CoachModel,
        timings: TurnTimings | None = None,
        delivery: SlackDelivery | None = None,
        on_model_call: Callable[[StreamStats, bool], None] | None = None,
        on_crisis: Callable[[], None] | None = None,
        attachments: AttachmentService | None = None,
        reader: AttachmentReader | None = None,
        turns: TurnLeases | None = None,
        memory: MemoryService | None = None,
        feedback: FeedbackService | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._model = model
        self._system_prompt = settings.coach_system_prompt or DEFAULT_SYSTEM_PROMPT
        self.timings = timings or TurnTimings()
        # The rate budget, streaming support and optional calls every turn's conversation shares.
        self.delivery = delivery or SlackDelivery()
        # Files shared in a session, and the `files` listing; None runs coaching without them.
        self.attachments = attachments
        # Reads the session's files into the prompt (and indexes them for the intake).
        self.reader = reader
        # One turn at a time per session, across replicas (conversation.turns); None: no leases (unit tests).
        self.turns = turns
        # Memory across sessions (bot.memory): the words that wrap a session up, the memory in
        # each prompt, the Wrap up button under replies; None coaches without memory.
        self.memory = memory
        # The feedback buttons under each coaching reply (bot.feedback); None shows none.
        self.feedback = feedback
        # Where configuration errors are recorded (log, /readyz, /perf, the admins' DM).
        self.config_health: ConfigHealth | None = None
        # Told (in the background) when a coach's message starts a session: the App Home's refresh.
        self.on_new_session: Callable[[str, str, Any], Awaitable[Any]] | None = None
        self._replier = Replier(
            store=store,
            model=model,
            turns=turns,
            timings=self.timings,
            writer_options=ReplyWriterOptions(
                streaming=self.delivery.streaming,
                flush_interval=settings.stream_flush_interval_ms / 1000,
                part_chars=settings.reply_part_chars,
            ),
            on_model_call=on_model_call,
            on_model_error=self._note_config_problem,
            on_slack_failure=self._tell_slack_failed,
            crisis_text=crisis_text(settings.crisis_resources),
            on_crisis=on_crisis,
            custom_prompt=bool(settings.coach_system_prompt),
        )
        # Each coach message is checked for self-harm or violence alongside the model call.
        self.crisis_check = CrisisCheck(getattr(model, "client", None), mode=settings.openai_moderation)
        self._running = RunningTurns()

    @property
    def _history_rows(self) -> int:
        """How many newest messages a turn reads: what the prompt's token budget can hold."""
        return history_rows(self._model.fit.prompt_budget(self._settings.context_token_budget))

    async def handle_message(self, message: CoachMessage, conversation: SlackConversation) -> TurnOutcome:
        """One whole turn. Never raises: every failure ends in a message to the coach or a log line."""
        return await self._guarded(self._turn(message, conversation), message, conversation)

    async def _guarded(
        self, turn: Coroutine[Any, Any, TurnOutcome], message: CoachMessage, conversation: SlackConversation
    ) -> TurnOutcome:
        """Count the turn in flight (for a graceful shutdown) and answer any failure."""
        with self._running.counting():
            try:
                return await turn
            except Exception:
                # The boundary of last resort: log (no message text) and still answer the coach.
                logger.exception("Coaching turn failed (channel=%s)", message.channel_id)
                self.timings.record_failure()
                await conversation.post(UNEXPECTED_TEXT)
                return TurnOutcome.FAILED

    async def shut_down(self, grace: float) -> bool:
        """Graceful shutdown: start no new turn, let running ones finish within ``grace`` seconds,
        and hand the rest back unanswered (their leases released) for another turn to take over.

        New messages are still stored, and owed. True when every turn finished in time.
        """
        if self.turns is not None:
            self.turns.accepting = False
        if await self.drain(grace):
            return True
        running = self._running.unfinished()
        logger.warning("Handing %d unfinished turn(s) to the owed-reply recovery", len(running))
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        return False

    async def drain(self, timeout: float) -> bool:
        """Wait for running turns to finish (graceful shutdown); True when all did."""
        return await self._running.drain(timeout)

    async def _turn(self, message: CoachMessage, conversation: SlackConversation) -> TurnOutcome:
        if self.attachments is not None and not message.files and is_files_command(message.text):
            # A command, not coaching: no model call, and not kept as history.
            await self.attachments.show_listing(message, conversation)
            return TurnOutcome.FILES_LISTED
        key = SessionKey(message.team_id, message.channel_id, message.thread_ts)
        if self.memory is not None and not message.files and self.memory.ends_session(message.text):
            # A command, not coaching: the session ends with a summary, no model reply.
            session_id = None if message.starts_session else await self._store.find_session_id(key)
            coach = Coach(message.team_id, message.user_id)
            wrapped = await self.memory.wrap_up_by_words(
                session_id, coach, conversation.client, channel_id=message.channel_id
            )
            if wrapped is not None:
                return TurnOutcome.WRAPPED_UP
        owner = self.turns.new_owner() if self.turns is not None else None
        try:
            recorded = await self._store.record_user_message(
                key,
                user_id=message.user_id,
                slack_ts=message.ts,
                text=message.text,
                event_id=message.event_id,
                start_session=message.starts_session,
                title=message.text[:TITLE_CHARS] or None,
                history_limit=self._history_rows,
                lease_owner=owner,
                lease_seconds=self.turns.lease_seconds if self.turns is not None else 0.0,
            )
        except Exception:
            logger.exception("Could not store a coach message (channel=%s)", message.channel_id)
            await conversation.post(NOT_STORED_TEXT)
            self.timings.record_failure()
            return TurnOutcome.NOT_STORED
        if recorded is None:
            return TurnOutcome.DUPLICATE if message.starts_session else TurnOutcome.NOT_A_SESSION
        if isinstance(recorded, Bystander):
            # Someone else in the coach's channel thread: nothing stored, no model, one short note.
            if self.turns is not None:
                await tell_bystander_once(conversation, self.turns.store, message, recorded.session_id)
            return TurnOutcome.NOT_THE_COACH
        if self.turns is None:
            return await self._first_answer(message, recorded, conversation)
        if not recorded.leased or owner is None:
            # Stored and owed: the turn holding the session answers it when its reply is done.
            if message.files and self.attachments is not None:
                await self.attachments.intake(message, recorded.session_id, conversation)
            return TurnOutcome.QUEUED
        lead_in = RESTARTED_LEAD_IN if recorded.takes_over else ""
        async with self.turns.holding(
            recorded.session_id, owner, recorded.coach_seq, lead_in=lead_in
        ) as held:
            if recorded.stale_stream_ts is not None:
                await self._close_stale_stream(conversation, recorded.stale_stream_ts)
            outcome = await self._first_answer(message, recorded, conversation)
            return await self.answer_while_owed(message, held, conversation, outcome)

    async def answer_while_owed(
        self, message: CoachMessage, held: HeldLease, conversation: SlackConversation, outcome: TurnOutcome
    ) -> TurnOutcome:
        """Answer, one reply after another, the messages that arrived while the last reply streamed."""
        assert self.turns is not None
        while await self.turns.next_round(held):
            outcome = await self._answer_owed(message, held, conversation)
        return outcome

    async def _answer_owed(
        self, message: CoachMessage, held: HeldLease, conversation: SlackConversation
    ) -> TurnOutcome:
        """One reply to every coach message owed in the session, from a fresh read of its history."""
        assert self.turns is not None
        owed = await self.turns.store.owed_history(held.session_id, limit=self._history_rows)
        held.covered_seq = owed.coach_seq
        latest = dataclasses.replace(
            message,
            ts=owed.last_coach_ts or message.ts,
            text=owed.last_coach_text,
            event_id=None,
            received_at=time.perf_counter(),
            files=(),
            starts_session=False,
        )
        recorded = RecordedMessage(
            session_id=held.session_id,
            message_id=-1,
            is_new_session=False,
            history=owed.history,
            attachment_count=owed.attachment_count,
            coach_seq=owed.coach_seq,
            leased=True,
        )
        self._show_progress(latest, recorded, conversation)
        references, images = await self._file_context(latest, recorded, ())
        return await self._answer(latest, recorded, conversation, references=references, images=images)

    async def answer_taken_over(
        self,
        message: CoachMessage,
        held: HeldLease,
        stale_stream_ts: str | None,
        conversation: SlackConversation,
    ) -> TurnOutcome:
        """Answer what a dead (or stopped) process owed in a session whose lease was just taken over."""

        async def turn() -> TurnOutcome:
            if stale_stream_ts is not None:
                await self._close_stale_stream(conversation, stale_stream_ts)
            outcome = await self._answer_owed(message, held, conversation)
            return await self.answer_while_owed(message, held, conversation, outcome)

        return await self._guarded(turn(), message, conversation)

    async def _first_answer(
        self, message: CoachMessage, recorded: RecordedMessage, conversation: SlackConversation
    ) -> TurnOutcome:
        """The reply to the message just stored: its files first, then the model."""
        turn_files: tuple[StoredFile, ...] = ()
        if message.files and self.attachments is not None:
            # After the message is stored (it is never lost), before the model (it sees the file).
            intake = await self.attachments.intake(message, recorded.session_id, conversation)
            turn_files = tuple(intake.files)
            if not message.text.strip():
                if intake.all_rejected:
                    note = "\n".join([*intake.problems, NOTHING_TO_READ_TEXT])
                    await conversation.post(note)
                    return TurnOutcome.NOTHING_TO_READ
                images = await self._images(recorded, turn_files)
                if not images:
                    await conversation.post(confirmation_text(intake))
                    return TurnOutcome.FILES_STORED
                # A picture shared without a word asks to be looked at: the model answers it.
                if intake.problems:
                    await conversation.post(problems_text(intake))
                self._show_progress(message, recorded, conversation)
                return await self._answer(message, recorded, conversation, images=images)
            if intake.problems:
                await conversation.post(problems_text(intake))
        if not message.text.strip():  # e.g. a file shared without a word
            await conversation.post(NOTHING_TO_READ_TEXT)
            return TurnOutcome.NOTHING_TO_READ
        self._show_progress(message, recorded, conversation)
        references, images = await self._file_context(message, recorded, turn_files)
        return await self._answer(message, recorded, conversation, references=references, images=images)

    async def _answer(
        self,
        message: CoachMessage,
        recorded: RecordedMessage,
        conversation: SlackConversation,
        *,
        references: list[Reference] | None = None,
        images: list[ImageInput] | None = None,
    ) -> TurnOutcome:
        """Build the prompt and stream the model's reply into the thread, the crisis check alongside."""
        budget = self._model.fit.prompt_budget(self._settings.context_token_budget)
        memory_text, final_blocks = None, None
        if self.memory is not None:
            memory_text = await self.memory.text_for(
                message.team_id, message.user_id, new_session=recorded.is_new_session, prompt_budget=budget
            )
            final_blocks = self.memory.reply_blocks(recorded.session_id)
        prompt = build_messages(
            recorded.history,
            system_prompt=self._system_prompt,
            token_budget=budget,
            references=references or (),
            images=images or (),
            memory_text=memory_text,
        )
        check = None
        if self.crisis_check.enabled and message.text.strip():
            check = functools.partial(self.crisis_check.in_crisis, message.text)
        return await self._replier.reply(
            message,
            recorded,
            prompt,
            conversation,
            crisis_check=check,
            final_blocks=final_blocks,
            feedback_blocks=self.feedback.reply_blocks() if self.feedback is not None else None,
        )

    async def _tell_slack_failed(
        self, session_id: int, error: BaseException, conversation: SlackConversation, told: bool
    ) -> None:
        """A Slack call failed mid-reply : log it, and tell the coach unless ``told``."""
        logger.warning(
            "Slack call failed while replying (session=%s, error=%s)", session_id, slack_error_name(error)
        )
        if not told:  # else the reply already ends with a note saying so
            await conversation.post(SLACK_FAILED_TEXT)

    async def _close_stale_stream(self, conversation: SlackConversation, ts: str) -> None:
        """End the reply a dead process left streaming, with a short note, before answering again."""
        await conversation.stop_stream(ts, STALE_STREAM_NOTE)  # Slack may have closed it; the answer follows

    def _note_config_problem(self, error: openai.APIError) -> None:
        problem = openai_problem(error, model=self._settings.openai_model)
        if problem is not None and self.config_health is not None:
            self.config_health.record(problem)

    async def _file_context(
        self, message: CoachMessage, recorded: RecordedMessage, turn_files: tuple[StoredFile, ...]
    ) -> tuple[list[Reference], list[ImageInput]]:
        """Excerpts and images for the prompt, the excerpts within a share of the budget."""
        budget = self._model.fit.prompt_budget(self._settings.context_token_budget)
        return await file_context(
            self.reader,
            message,
            recorded,
            turn_files,
            excerpt_budget=budget // ATTACHMENT_SHARE,
            takes_images=self._settings.model_takes_images,
        )

    async def _images(self, recorded: RecordedMessage, files: tuple[StoredFile, ...]) -> list[ImageInput]:
        return await turn_images(self.reader, recorded, files, takes_images=self._settings.model_takes_images)

    def _show_progress(
        self, message: CoachMessage, recorded: RecordedMessage, conversation: SlackConversation
    ) -> None:
        """Optimistic feedback without waiting on Slack: "is thinking…" on every surface (setStatus takes
        chat:write since 2026-03; the reply clears it), a title in the DM (agent view) timeline only."""
        conversation.show_status(THINKING_STATUS)
        if message.surface is not Surface.CHANNEL and recorded.is_new_session and message.text:
            conversation.show_title(message.text[:TITLE_CHARS])
        if recorded.is_new_session and self.on_new_session is not None:
            conversation.background.spawn(
                self.on_new_session(message.team_id, message.user_id, conversation.client)
            )
