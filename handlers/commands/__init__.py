"""Slash commands."""

from slack_bolt.async_app import AsyncApp

from bot.metrics import timed
from handlers.commands.perf import handle_perf


def register(app: AsyncApp) -> None:
    app.command("/perf")(timed(handle_perf))
