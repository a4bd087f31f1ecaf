"""Slash commands."""

from slack_bolt.async_app import AsyncApp

from bot.operations.metrics import timed
from handlers.commands.coach import handle_coach
from handlers.commands.perf import handle_perf


def register(app: AsyncApp) -> None:
    app.command("/perf")(timed(handle_perf))
    app.command("/coach")(timed(handle_coach))
