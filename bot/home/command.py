"""``/coach settings``: the coach's settings, ephemerally, with the same blocks as the App Home."""

from __future__ import annotations

from bot.commands.coach import CoachRequest
from bot.home.service import HomeService
from bot.home.settings_blocks import settings_blocks
from bot.home.toggles import settings_message

HELP_LINE = "your check-ins, memory and working hours, to turn on or off (also on my Home tab)"


class SettingsCommand:
    def __init__(self, home: HomeService) -> None:
        self._home = home

    async def __call__(self, request: CoachRequest) -> None:
        settings = await self._home.settings(request.team_id, request.user_id)
        await request.respond(response_type="ephemeral", **settings_message(settings_blocks(settings)))
