"""**Send** under "What would have helped?": ack, then the note goes with the coach's thumbs-down."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.feedback.blocks import typed_note
from handlers.actions.presser import action_value, presser


async def handle_feedback_note(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    feedback = context.get("feedback")
    if feedback is not None:
        await feedback.send_note(presser(body), action_value(body), typed_note(body), respond)
