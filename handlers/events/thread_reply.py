"""A reply in a channel thread continues the session, if that thread is one.

A reply that @mentions the bot is left to the app_mention listener, so one
Slack message never produces two turns.
"""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.conversation.slack_events import coach_message, is_from_a_person, mentions_user
from bot.conversation.turn_values import Surface


async def is_reply_in_a_channel_thread(event: dict[str, Any], context: AsyncBoltContext) -> bool:
    return (
        event.get("channel_type") in {"channel", "group"}
        and bool(event.get("thread_ts"))
        and is_from_a_person(event)
        and not mentions_user(event.get("text") or "", context.bot_user_id)
    )


async def handle_thread_reply(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
    message = coach_message(event, body=body, context=context, surface=Surface.CHANNEL, starts_session=False)
    conversation = context["delivery"].for_message(context, message)  # this workspace's client
    await context["coaching"].handle_message(message, conversation)
