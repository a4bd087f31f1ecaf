"""A coach's message in an agent-panel (or any threaded DM) thread."""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.conversation.slack_events import coach_message, is_from_a_person
from bot.conversation.turn_values import Surface


async def handle_user_message(
    payload: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    if not is_from_a_person(payload):
        return
    message = coach_message(
        payload, body=body, context=context, surface=Surface.AGENT_PANEL, starts_session=True
    )
    conversation = context["delivery"].for_message(context, message)  # this workspace's client
    await context["coaching"].handle_message(message, conversation)
