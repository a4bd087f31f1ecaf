"""Ending a session: claim it, extract what it held (one structured call), store it, post the summary.

Whoever asks (the coach's words, the **Wrap up** button, ``/coach wrap``, the idle job), the
session is checked against our tables and claimed once (``MemoryStore.claim_wrap_up``), so two
replicas never summarise it twice. With memory off the session still ends, and nothing is kept.
A failed extraction ends the session too; the coach is told, and a later wrap-up tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from enum import StrEnum

import openai
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.memory.blocks import summary_blocks, summary_fallback
from bot.memory.context import MemoryContext
from bot.memory.extraction import ExtractionFailed, MemoryExtractor
from storage.memory import MemoryStore
from storage.memory_records import Coach, Extraction, WrapTarget

logger = logging.getLogger(__name__)

#: The newest messages a wrap-up reads (the prompt builder fits them to the window).
TRANSCRIPT_LIMIT = 400

MEMORY_OFF_TEXT = (
    "Session wrapped up. Memory is off, so I kept nothing from it. `/coach memory on` turns it back on."
)
FAILED_TEXT = (
    "Session wrapped up, but I couldn't write its summary just now. "
    "Press *Wrap up* again or use `/coach wrap` in this thread later to try again."
)


class WrapUpOutcome(StrEnum):
    WRAPPED = "wrapped"
    MEMORY_OFF = "memory_off"  # ended, nothing kept
    ALREADY = "already"  # wrapped up before (or being wrapped up now)
    NOT_A_SESSION = "not_a_session"
    NOT_THE_COACH = "not_the_coach"
    FAILED = "failed"  # ended; the extraction or the post failed, the coach was told


class WrapUps:
    """Wraps sessions up. One per process, shared by the listeners and the idle job."""

    def __init__(
        self,
        store: MemoryStore,
        extractor: MemoryExtractor,
        context: MemoryContext,
        *,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.store = store
        self.context = context
        self._extractor = extractor
        self._today = today
        #: Told of each session ended (the App Home re-publishes the coach's): set at assembly.
        self.on_ended: Callable[[Coach, AsyncWebClient], Awaitable[None]] | None = None

    async def wrap_up(
        self, session_id: int, client: AsyncWebClient, *, asked_by: Coach | None
    ) -> WrapUpOutcome:
        """End the session; ``asked_by`` (None for the idle job) must be its coach in its workspace."""
        outcome, coach = await self._wrap_up(session_id, client, asked_by=asked_by)
        ended = (WrapUpOutcome.WRAPPED, WrapUpOutcome.MEMORY_OFF, WrapUpOutcome.FAILED)
        if outcome in ended and coach is not None and self.on_ended is not None:
            await self.on_ended(coach, client)
        return outcome

    async def _wrap_up(
        self, session_id: int, client: AsyncWebClient, *, asked_by: Coach | None
    ) -> tuple[WrapUpOutcome, Coach | None]:
        target = await self.store.wrap_target(session_id)
        if target is None:
            return WrapUpOutcome.NOT_A_SESSION, None
        coach = Coach(target.team_id, target.user_id)
        if asked_by is not None and asked_by != coach:
            return WrapUpOutcome.NOT_THE_COACH, None
        summary_id = await self.store.claim_wrap_up(target)
        if summary_id is None:
            return WrapUpOutcome.ALREADY, None
        self.context.changed(coach)
        memory = await self.store.load(coach)
        if not memory.enabled:
            if (
                await self.store.save_extraction(summary_id, target, Extraction(summary=""), keep=False)
                is None
            ):
                return WrapUpOutcome.NOT_A_SESSION, None  # erased meanwhile: nothing to say in the thread
            await self._post(client, target, MEMORY_OFF_TEXT)
            return WrapUpOutcome.MEMORY_OFF, coach
        try:
            transcript = await self.store.transcript(session_id, limit=TRANSCRIPT_LIMIT)
            extraction = await self._extractor.extract(transcript, today=self._today())
        except (openai.APIError, ExtractionFailed) as error:
            logger.warning(
                "Wrap-up extraction failed (session=%s, error=%s)", session_id, type(error).__name__
            )
            await self.store.fail_wrap_up(summary_id)
            await self._post(client, target, FAILED_TEXT)
            return WrapUpOutcome.FAILED, coach
        saved = await self.store.save_extraction(summary_id, target, extraction)
        self.context.changed(coach)
        if saved is None:  # the coach erased their data while the summary was written
            return WrapUpOutcome.NOT_A_SESSION, None
        ts = await self._post(
            client, target, summary_fallback(extraction), summary_blocks(extraction, saved.commitments)
        )
        if ts is None:
            return WrapUpOutcome.FAILED, coach
        await self.store.record_posted(summary_id, target.channel_id, ts)
        return WrapUpOutcome.WRAPPED, coach

    async def _post(
        self, client: AsyncWebClient, target: WrapTarget, text: str, blocks: list[dict] | None = None
    ) -> str | None:
        try:
            response = await client.chat_postMessage(
                channel=target.channel_id, thread_ts=target.thread_ts, text=text, blocks=blocks
            )
        except SLACK_ERRORS as error:
            logger.warning(
                "Could not post a wrap-up (session=%s, error=%s)", target.session_id, slack_error_name(error)
            )
            return None
        return str(response.get("ts") or "")
