"""Check-ins on the app's side: posting the DM, the buttons' answers, and ``/coach checkins``.

A button press is a claim about a check-in (its value names a commitment and round); the
check-in is looked up in our tables and the press is honoured only when the presser is the
check-in's coach, in its workspace, on the very message it was posted as. Anything else is
refused with an ephemeral note, and nothing changes. An answer is recorded once (a double press
or two replicas get "already answered"); the message then loses its buttons and says what the
answer did.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.checkins.coach_zones import CoachZones
from bot.checkins.messages import (
    DONE,
    NOT_YET,
    TALK,
    answered_blocks,
    checkin_blocks,
    checkin_text,
    parse_button_value,
    talk_opening,
)
from bot.checkins.schedule import next_due_at
from bot.commands.coach import CoachRequest
from bot.delivery.workspace_clients import WorkspaceClients, client_of
from storage.checkins import (
    DueCheckin,
    SentCheckin,
    answer_checkin,
    checkins_enabled,
    find_checkin,
    open_talk_session,
    set_checkins_enabled,
)
from storage.conversations import ConversationStore
from storage.models import CheckinAnswer, CommitmentStatus

logger = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]
ANSWERS = {DONE: CheckinAnswer.DONE, NOT_YET: CheckinAnswer.NOT_YET, TALK: CheckinAnswer.TALK}
NOT_YOURS = "This check-in belongs to someone else, so I've left it alone."
ALREADY = "You've answered this check-in already."
GONE = "This check-in is no longer current (the commitment may have been forgotten)."
HELP_LINE = "turn my check-ins on your commitments `on` or `off`"
TURNED_ON = "Check-ins are on: I'll ask how your commitments went, on their due date, in your working hours."
TURNED_OFF = "Check-ins are off: I won't message you about commitments. `/coach checkins on` resumes them."


@dataclass(frozen=True)
class CheckinPress:
    """A button press, as the payload tells it (to be checked, never trusted)."""

    action_id: str
    value: str
    team_id: str
    user_id: str
    channel_id: str
    message_ts: str


class CheckinService:
    """Posts check-ins (for the job) and answers their buttons and ``/coach checkins``."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        clients: WorkspaceClients,
        zones: CoachZones,
        checkin_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._clients = clients  # the coach's workspace's client, per call
        self.zones = zones
        self._checkin_days = checkin_days
        self.clock = clock

    # ----------------------------------------------------------------- the DM

    async def send(self, due: DueCheckin) -> tuple[str, str]:
        """Open the coach's DM with the bot and post the check-in; (channel, ts)."""
        client = await client_of(self._clients, due.team_id)
        opened = await client.conversations_open(users=due.user_id)
        channel = str((opened.get("channel") or {}).get("id") or "")
        posted = await client.chat_postMessage(
            channel=channel,
            text=checkin_text(due.words),
            blocks=checkin_blocks(
                words=due.words, due_date=due.due_date, commitment_id=due.commitment_id, round_=due.round
            ),
        )
        return channel, str(posted["ts"])

    # ----------------------------------------------------------------- the buttons

    async def answer(self, press: CheckinPress, respond: Respond) -> None:
        """Honour a press of Done, Not yet or Let's talk, or refuse it; see the module docstring."""
        answer = ANSWERS.get(press.action_id)
        ref = parse_button_value(press.value)
        checkin = await self._find(*ref) if ref is not None and answer is not None else None
        if checkin is None or checkin.commitment_status == CommitmentStatus.DROPPED.value:
            await _ephemeral(respond, GONE)
            return
        if (checkin.team_id, checkin.user_id, checkin.channel_id, checkin.message_ts) != (
            press.team_id,
            press.user_id,
            press.channel_id,
            press.message_ts,
        ):
            logger.info(
                "Check-in %s/%s: a press by someone else refused", checkin.commitment_id, checkin.round
            )
            await _ephemeral(respond, NOT_YOURS)
            return
        assert answer is not None
        now = self.clock()
        days = checkin.workspace_checkin_days or self._checkin_days  # the workspace's, as for round 1
        next_due = next_due_at(answer, checkin.round, now=now, checkin_days=days)
        recorded = await self._store.run_write(
            functools.partial(answer_checkin, checkin=checkin, answer=answer, now=now, next_due_at=next_due)
        )
        if not recorded or checkin.answer is not None:
            await _ephemeral(respond, ALREADY)
            return
        logger.info("Check-in %s/%s answered: %s", checkin.commitment_id, checkin.round, answer.value)
        outcome = await self._outcome(checkin, answer, next_due, now)
        client = await client_of(self._clients, checkin.team_id)
        await client.chat_update(
            channel=checkin.channel_id,
            ts=checkin.message_ts,
            text=outcome,
            blocks=answered_blocks(words=checkin.words, outcome=outcome),
        )

    async def _find(self, commitment_id: int, round_: int) -> SentCheckin | None:
        async with self._store.reading() as connection:
            return await connection.run_sync(find_checkin, commitment_id, round_)

    async def _outcome(
        self, checkin: SentCheckin, answer: CheckinAnswer, next_due: datetime | None, now: datetime
    ) -> str:
        """What the answer did, in a line (and, for Let's talk, the new session's thread)."""
        if answer is CheckinAnswer.DONE:
            return ":white_check_mark: Marked done. Well done for following through."
        if answer is CheckinAnswer.TALK:
            await self._open_talk(checkin, now)
            return ":speech_balloon: Let's talk: I've started a new thread for it."
        if next_due is None:
            return ":hourglass: Not yet. I won't ask about this one again; it stays in `/coach memory`."
        zone = await self.zones.zone(checkin.team_id, checkin.user_id)
        return f":hourglass: Not yet, no problem. I'll ask again on {next_due.astimezone(zone):%A %d %B}."

    async def _open_talk(self, checkin: SentCheckin, now: datetime) -> None:
        """A new thread in the DM whose session opens with the commitment (see ``talk_opening``)."""
        opening = talk_opening(checkin.words)
        client = await client_of(self._clients, checkin.team_id)
        posted = await client.chat_postMessage(channel=checkin.channel_id, text=opening)
        await self._store.run_write(
            functools.partial(
                open_talk_session,
                team_id=checkin.team_id,
                channel_id=checkin.channel_id,
                thread_ts=str(posted["ts"]),
                user_id=checkin.user_id,
                title="Following up on a commitment",
                opening=opening,
                now=now,
            )
        )

    # ----------------------------------------------------------------- /coach checkins

    async def subcommand(self, request: CoachRequest) -> None:
        """``/coach checkins [on|off]``: switch them, or say whether they are on."""
        word = request.argument.strip().lower()
        if word in ("on", "off"):
            await self._store.run_write(
                functools.partial(
                    set_checkins_enabled,
                    team_id=request.team_id,
                    user_id=request.user_id,
                    enabled=word == "on",
                )
            )
            text = TURNED_ON if word == "on" else TURNED_OFF
        else:
            async with self._store.reading() as connection:
                enabled = await connection.run_sync(checkins_enabled, request.team_id, request.user_id)
            text = (
                f"Check-ins are {'on' if enabled else 'off'}. "
                "`/coach checkins off` stops them, `/coach checkins on` resumes them."
            )
        await request.respond(response_type="ephemeral", text=text)


async def _ephemeral(respond: Respond, text: str) -> None:
    await respond(response_type="ephemeral", replace_original=False, text=text)
