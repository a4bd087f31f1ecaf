"""``/coach wrap``, ``/coach memory [on|off]``, ``/coach forget``, and the listing's Edit and Delete.

Every answer is ephemeral. Edit opens a modal (views.open, with the press's fresh trigger_id);
its submission and every Delete are checked against our tables: the item must be the presser's,
in their workspace.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.coach import CoachCommand, CoachRequest
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.memory.blocks import EDIT_BLOCK, EDIT_INPUT, edit_view, memory_blocks, parse_item_value
from bot.memory.service import MemoryService
from bot.memory.wrap_up import WrapUpOutcome
from storage.memory import LISTING_LIMIT
from storage.memory_records import Coach

logger = logging.getLogger(__name__)

WRAP_ANSWERS = {
    WrapUpOutcome.WRAPPED: "Wrapped up. The summary is in the session's thread.",
    WrapUpOutcome.MEMORY_OFF: "Wrapped up. Memory is off, so nothing was kept.",
    WrapUpOutcome.FAILED: "The session is wrapped up, but its summary failed; try `/coach wrap` again later.",
    WrapUpOutcome.ALREADY: "That session is already wrapped up.",
}
NOTHING_TO_WRAP = "You have no session open. Start one by sending me a message."
MEMORY_OFF = (
    "Memory is off: I won't summarise your sessions or bring them up. `/coach memory on` restarts it."
)
MEMORY_ON = "Memory is on: when you wrap up a session I'll keep its summary, goals and commitments."
FORGOTTEN = (
    "Done: I've forgotten your goals, commitments, session summaries and everything you asked me to keep."
)
GONE = "That item is no longer in your memory."


class MemoryCommands:
    """The memory subcommands of ``/coach`` and the listing's buttons."""

    def __init__(self, service: MemoryService) -> None:
        self._service = service
        self._store = service.store

    def register(self, router: CoachCommand) -> None:
        router.add("wrap", self.wrap, "end your current session, with a summary of it in its thread")
        router.add("memory", self.memory, "what I remember, to edit or delete; `memory off` / `memory on`")
        router.add("forget", self.forget, "forget everything I remember about you")

    async def wrap(self, request: CoachRequest) -> None:
        coach = Coach(request.team_id, request.user_id)
        session_id = await self._store.latest_active_session(coach)
        if session_id is None:
            await request.respond(response_type="ephemeral", text=NOTHING_TO_WRAP)
            return
        outcome = await self._service.wrap_ups.wrap_up(session_id, request.client, asked_by=coach)
        await request.respond(response_type="ephemeral", text=WRAP_ANSWERS.get(outcome, NOTHING_TO_WRAP))

    async def memory(self, request: CoachRequest) -> None:
        coach = Coach(request.team_id, request.user_id)
        argument = request.argument.lower()
        if argument in ("off", "on"):
            await self._store.set_enabled(coach, argument == "on")
            self._service.context.changed(coach)
            await request.respond(
                response_type="ephemeral", text=MEMORY_ON if argument == "on" else MEMORY_OFF
            )
            return
        await request.respond(**await self.listing(coach))

    async def forget(self, request: CoachRequest) -> None:
        coach = Coach(request.team_id, request.user_id)
        await self._store.forget(coach)
        self._service.context.changed(coach)
        await request.respond(response_type="ephemeral", text=FORGOTTEN)

    async def listing(self, coach: Coach) -> dict[str, Any]:
        """The ephemeral ``/coach memory`` message (also what a Delete replaces it with)."""
        memory = await self._store.load(coach, limit=LISTING_LIMIT)
        return {"response_type": "ephemeral", "text": "What I remember", "blocks": memory_blocks(memory)}

    # ----------------------------------------------------------------- the listing's buttons

    async def delete(self, value: str, presser: Coach, respond: Any) -> None:
        parsed = parse_item_value(value)
        if parsed is None:
            return
        deleted = await self._store.delete_item(presser, *parsed)
        self._service.context.changed(presser)
        listing = await self.listing(presser)
        if not deleted:
            await respond(response_type="ephemeral", replace_original=False, text=GONE)
            return
        await respond(replace_original=True, **listing)

    async def open_edit(
        self, value: str, presser: Coach, trigger_id: str, client: AsyncWebClient, respond: Any
    ) -> None:
        parsed = parse_item_value(value)
        item = None if parsed is None else await self._store.item(presser, *parsed)
        if item is None:
            await respond(response_type="ephemeral", replace_original=False, text=GONE)
            return
        try:
            await client.views_open(trigger_id=trigger_id, view=edit_view(item))
        except SLACK_ERRORS as error:
            logger.warning("Could not open the memory edit modal (error=%s)", slack_error_name(error))

    async def save_edit(
        self, private_metadata: str, values: dict[str, Any], presser: Coach
    ) -> dict[str, Any] | None:
        """The modal's submission: None closes it; else the ``response_action: errors`` to show."""
        parsed = parse_item_value(private_metadata)
        text = str(((values.get(EDIT_BLOCK) or {}).get(EDIT_INPUT) or {}).get("value") or "").strip()
        if not text:
            return {
                "response_action": "errors",
                "errors": {EDIT_BLOCK: "Write something, or delete it instead."},
            }
        if parsed is None or not await self._store.update_text(presser, *parsed, text):
            return {"response_action": "errors", "errors": {EDIT_BLOCK: GONE}}
        self._service.context.changed(presser)
        return None
