"""A top-level direct message opens a new session in its own thread.

Replies inside a DM thread come through the agent-panel listener instead:
Bolt's Assistant middleware claims every threaded DM message.
"""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.conversation.slack_events import coach_message, is_from_a_person
from bot.conversation.turn_values import Surface


async def is_top_level_direct_message(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" and not event.get("thread_ts") and is_from_a_person(event)


async def handle_direct_message(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    message = coach_message(
        event, body=body, context=context, surface=Surface.DIRECT_MESSAGE, starts_session=True
    )
    conversation = context["delivery"].for_message(context, message)  # this workspace's client
    await context["coaching"].handle_message(message, conversation)
