"""Memory's part in a turn, and its buttons: the words that end a session, Wrap up, Done.

The coaching turn asks ``wrap_up_words`` before storing a message, and ``text_for`` for the
memory part of its prompt. Button presses arrive with a Slack payload; who pressed is checked
against our tables (the session's coach, the commitment's coach, each in its workspace), never
against anything else the payload says.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.delivery.workspace_clients import WorkspaceClients
from bot.memory.blocks import mark_done, wrap_up_blocks
from bot.memory.context import MemoryContext
from bot.memory.wrap_up import WrapUpOutcome, WrapUps
from storage.memory_records import Coach
from storage.models import CommitmentStatus

logger = logging.getLogger(__name__)

#: A whole message that only ends the session: "wrap up", "let's wrap it up, thanks", "That's all for now!".
_WRAP_UP_WORDS = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|great|thanks|thank you|cool|perfect|good)\W+)*"
    r"(?:let'?s\s+|please\s+|we\s+can\s+)?(?:wrap(?:\s+(?:it|this))?\s+up|that'?s\s+(?:all|it)\s+for\s+now)"
    r"(?:\W+(?:thanks|thank you|for today|please))*\W*$",
    re.IGNORECASE,
)

NOT_YOUR_SESSION_TEXT = "Only the coach of this session can wrap it up."
NOT_YOUR_COMMITMENT_TEXT = "Only the coach who made this commitment can mark it done."
ALREADY_TEXT = "This session is already wrapped up."
#: Idle sessions one job run wraps up at most; the next slot takes the rest.
IDLE_BATCH = 50


def is_wrap_up_words(text: str) -> bool:
    """Whether the message says only that the session is over (not "help me wrap up my project")."""
    flat = text.replace("\u2019", "'").strip()
    return len(flat) <= 80 and _WRAP_UP_WORDS.match(flat) is not None


class MemoryService:
    """What the listeners and the coaching turn call; one per process."""

    def __init__(self, wrap_ups: WrapUps, context: MemoryContext, *, memory_share: int) -> None:
        self.wrap_ups = wrap_ups
        self.context = context
        self.store = wrap_ups.store
        self._memory_share = max(1, memory_share)

    # ----------------------------------------------------------------- the coaching turn

    def ends_session(self, text: str) -> bool:
        return is_wrap_up_words(text)

    def memory_budget(self, prompt_budget: int) -> int:
        return prompt_budget // self._memory_share

    async def text_for(
        self, team_id: str, user_id: str, *, new_session: bool, prompt_budget: int
    ) -> str | None:
        """The second system message of a turn's prompt, or None (memory off or empty)."""
        return await self.context.text_for(
            Coach(team_id, user_id), new_session=new_session, budget=self.memory_budget(prompt_budget)
        )

    def reply_blocks(self, session_id: int) -> list[dict[str, Any]]:
        """The blocks under a reply: the Wrap up button."""
        return wrap_up_blocks(session_id)

    async def wrap_up_by_words(
        self, session_id: int | None, coach: Coach, client: AsyncWebClient, *, channel_id: str
    ) -> WrapUpOutcome | None:
        """The coach said "wrap up": end that session (or, in a new thread, their newest active one
        in the same conversation).

        None when there is nothing of theirs to wrap up: the message is then an ordinary one.
        """
        if session_id is None:
            session_id = await self.store.latest_active_session(coach, channel_id=channel_id)
            if session_id is None:
                return None
        outcome = await self.wrap_ups.wrap_up(session_id, client, asked_by=coach)
        if outcome in (WrapUpOutcome.NOT_A_SESSION, WrapUpOutcome.NOT_THE_COACH):
            return None
        return outcome

    async def wrap_up_idle(
        self, cutoff: datetime, clients: WorkspaceClients, *, limit: int = IDLE_BATCH
    ) -> int:
        """The idle job: wrap up sessions with no message since ``cutoff``; how many ended.

        Each session is summarised with its own workspace's client; a workspace the app is no
        longer installed in is skipped (its data goes with the uninstall purge).
        """
        ended = 0
        for session_id, team_id in await self.store.idle_sessions(cutoff, limit=limit):
            client = await clients.client_for(team_id)
            if client is None:
                continue
            outcome = await self.wrap_ups.wrap_up(session_id, client, asked_by=None)
            ended += outcome in (WrapUpOutcome.WRAPPED, WrapUpOutcome.MEMORY_OFF, WrapUpOutcome.FAILED)
        return ended

    # ----------------------------------------------------------------- buttons

    async def press_wrap_up(self, value: str, presser: Coach, client: AsyncWebClient, respond: Any) -> None:
        """The Wrap up button under a reply; ``value`` names the session."""
        if not value.isdigit():
            return
        outcome = await self.wrap_ups.wrap_up(int(value), client, asked_by=presser)
        if outcome is WrapUpOutcome.NOT_THE_COACH:
            await respond(response_type="ephemeral", replace_original=False, text=NOT_YOUR_SESSION_TEXT)
        elif outcome is WrapUpOutcome.ALREADY:
            await respond(response_type="ephemeral", replace_original=False, text=ALREADY_TEXT)

    async def press_done(
        self,
        value: str,
        presser: Coach,
        client: AsyncWebClient,
        respond: Any,
        *,
        channel_id: str,
        message_ts: str,
        blocks: list[dict[str, Any]],
    ) -> None:
        """A commitment's Done button under a summary, a check-in or on the App Home (no message:
        nothing to update in Slack; the Home is re-published by its caller)."""
        if not value.isdigit():
            return
        if not await self.store.set_commitment_status(presser, int(value), CommitmentStatus.DONE):
            await respond(response_type="ephemeral", replace_original=False, text=NOT_YOUR_COMMITMENT_TEXT)
            return
        self.context.changed(presser)
        if not message_ts:
            return
        try:
            await client.chat_update(
                channel=channel_id,
                ts=message_ts,
                blocks=mark_done(blocks, int(value)),
                text="Commitment done.",
            )
        except SLACK_ERRORS as error:  # stored anyway; the button simply stays
            logger.warning("Could not mark a commitment done in Slack (error=%s)", slack_error_name(error))
