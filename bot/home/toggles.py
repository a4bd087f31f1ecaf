"""The settings' ``home_*`` buttons, on the App Home or under ``/coach settings``.

A toggle only ever changes the presser's own setting (their team and user), to the state its
value names ("on" or "off"); a press on someone else's Home is refused. Then the presser's Home
is re-published and, under ``/coach settings``, the message shows the new state.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.home.presses import Press, after_change, refuse
from bot.home.service import HomeService
from bot.home.settings_blocks import CHECKINS_ACTION, MEMORY_ACTION, settings_blocks

logger = logging.getLogger(__name__)

SETTINGS_TEXT = "Your coachbot settings"


def settings_message(blocks: list[Any]) -> dict[str, Any]:
    return {"text": SETTINGS_TEXT, "blocks": [block.to_dict() for block in blocks]}


async def toggle(home: HomeService, press: Press, action_id: str, value: str, client: AsyncWebClient) -> None:
    if not press.allowed:
        await refuse(press)
        return
    if value not in ("on", "off"):
        return
    on = value == "on"
    if action_id == CHECKINS_ACTION:
        await home.set_checkins(press.presser, on)
    elif action_id == MEMORY_ACTION:
        await home.set_memory(press.presser, on)
    else:
        return
    logger.info("A coach turned a setting %s (%s)", value, action_id)
    if not press.on_home:
        settings = await home.settings(press.presser.team_id, press.presser.user_id)
        await press.respond(replace_original=True, **settings_message(settings_blocks(settings)))
    await after_change(home, press, client)
