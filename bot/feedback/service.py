"""Presses of the feedback buttons under a reply, the note after a thumbs-down, and the figures.

A press counts only when the message pressed is a reply in a session of the coach who pressed,
in their workspace (``storage.feedback``); anyone else is told, politely and only them, that the
buttons are the coach's. The coach's own reply stored before revision 0010 (no ``reply_ts``)
cannot be matched: they are told feedback isn't available for it. A thumbs-down asks, in an
ephemeral message (chat.postEphemeral), what would have helped; the answer is stored with the
rating and never logged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.feedback.blocks import feedback_blocks, note_request_blocks
from bot.feedback.figures import FeedbackFigures
from storage.feedback import FeedbackStore
from storage.memory_records import Coach
from storage.models import Rating, utcnow

logger = logging.getLogger(__name__)

NOT_YOURS_TEXT = (
    "Thanks! These buttons are for the coach whose session this is, so I haven't counted this one."
)
OLDER_REPLY_TEXT = (
    "Thanks! Feedback isn't available for this older reply, so I haven't stored it. "
    "Your presses on newer replies count."
)
NOTE_NOT_YOURS_TEXT = "Only the coach who rated this reply can add a note to it."
NOTE_SAVED_TEXT = "Thank you: your note is saved with your rating."
NO_NOTE_TEXT = "No note sent. Thank you for the rating."
NOTE_QUESTION_TEXT = "Thanks for telling me. What would have helped? (Optional.)"
NOT_SAVED_TEXT = "Sorry, I couldn't save that just now. Please try again in a minute."
#: The period of the /perf figures.
FIGURES_DAYS = 7
#: GET /performance (a monitor's poll) recounts the figures at most this often; /perf always does.
FIGURES_MAX_AGE_SECONDS = 60.0


class FeedbackService:
    """What the feedback listeners and the coaching turn call; one per process."""

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store
        # Presses stored since start, by (model, prompt_version, rating): /metrics' counters.
        self._presses: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._figures: FeedbackFigures | None = None
        self._counted_at = -math.inf  # time.monotonic() of the last count

    def reply_blocks(self) -> list[dict[str, Any]]:
        return feedback_blocks()

    async def press(
        self,
        coach: Coach,
        value: str,
        *,
        channel_id: str,
        thread_ts: str,
        message_ts: str,
        client: AsyncWebClient,
        respond: Any,
    ) -> None:
        """A press of 👍 or 👎 under the reply ``message_ts``: stored, or refused if it is not theirs."""
        if value not in set(Rating) or not (channel_id and thread_ts and message_ts):
            return
        rating = Rating(value)
        try:
            reply = await self.store.reply_of(coach, channel_id, thread_ts, message_ts)
            if reply is None:
                older = await self.store.is_coachs_thread(coach, channel_id, thread_ts)
                text = OLDER_REPLY_TEXT if older else NOT_YOURS_TEXT
                await respond(response_type="ephemeral", replace_original=False, text=text)
                return
            feedback_id, before = await self.store.rate(coach, reply, rating)
        except SQLAlchemyError as error:
            logger.error("Could not store a rating (error=%s)", type(error).__name__)
            await respond(response_type="ephemeral", replace_original=False, text=NOT_SAVED_TEXT)
            return
        logger.info(
            "Reply rated (session=%s, rating=%s, changed=%s)", reply.session_id, value, before is not None
        )
        with self._lock:
            self._presses[(reply.model or "", reply.prompt_version or "", rating.value)] += 1
        if rating is Rating.NEGATIVE and before != Rating.NEGATIVE.value:
            await self._ask_what_would_have_helped(client, coach, channel_id, thread_ts, feedback_id)

    async def _ask_what_would_have_helped(
        self, client: AsyncWebClient, coach: Coach, channel_id: str, thread_ts: str, feedback_id: int
    ) -> None:
        try:
            await client.chat_postEphemeral(
                channel=channel_id,
                user=coach.user_id,
                thread_ts=thread_ts,
                text=NOTE_QUESTION_TEXT,
                blocks=note_request_blocks(feedback_id),
            )
        except SLACK_ERRORS as error:  # the rating is stored; only the question is lost
            logger.warning("Could not ask what would have helped (error=%s)", slack_error_name(error))

    async def send_note(self, coach: Coach, value: str, note: str, respond: Any) -> None:
        """**Send** under the question: the note on the coach's own thumbs-down (never logged)."""
        if not value.isdigit():
            return
        if not note:
            await respond(replace_original=True, text=NO_NOTE_TEXT)
            return
        try:
            saved = await self.store.add_note(coach, int(value), note)
        except SQLAlchemyError as error:  # never the note itself: the error's class only
            logger.error("Could not store a feedback note (error=%s)", type(error).__name__)
            await respond(response_type="ephemeral", replace_original=False, text=NOT_SAVED_TEXT)
            return
        if not saved:
            await respond(response_type="ephemeral", replace_original=False, text=NOTE_NOT_YOURS_TEXT)
            return
        logger.info("Feedback note saved (feedback=%s, chars=%d)", value, len(note))
        await respond(replace_original=True, text=NOTE_SAVED_TEXT)

    # ----------------------------------------------------------------- figures

    async def refresh(self, now: datetime | None = None, *, max_age: float = 0.0) -> FeedbackFigures:
        """Recount the last FIGURES_DAYS days' ratings (one indexed range), unless counted less than
        ``max_age`` seconds ago. Asked for when the figures are read (/perf, GET /performance),
        never on a press: the ratings of other replicas count too, and a press stays one write."""
        if time.monotonic() - self._counted_at < max_age and self._figures is not None:
            return self._figures
        self._counted_at = time.monotonic()
        end = now or utcnow()
        try:
            self._figures = FeedbackFigures.of(
                await self.store.counts(end - timedelta(days=FIGURES_DAYS), end)
            )
        except Exception as error:  # figures must never break a press
            logger.warning("Could not count the feedback figures: %s", type(error).__name__)
        return self._figures or FeedbackFigures()

    def snapshot(self) -> dict[str, Any]:
        """/perf's and /metrics' part: presses since start, and the last figures counted."""
        with self._lock:
            presses = [
                {"model": model, "prompt_version": version, "rating": rating, "count": count}
                for (model, version, rating), count in sorted(self._presses.items())
            ]
        figures = self._figures or FeedbackFigures()
        return {
            "days": FIGURES_DAYS,
            "presses": presses,
            "figures": figures.as_json(),
            "lines": figures.lines(),
        }
