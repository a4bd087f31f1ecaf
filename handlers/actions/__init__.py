"""Block Kit button presses (block_actions)."""

from slack_bolt.async_app import AsyncApp

from bot.checkins.messages import ACTIONS as CHECKIN_ACTIONS
from bot.operations.metrics import timed
from handlers.actions.checkin_answer import handle_checkin_answer


def register(app: AsyncApp) -> None:
    for action_id in CHECKIN_ACTIONS:
        app.action(action_id)(timed(handle_checkin_answer))
