"""A message was deleted: it leaves the coach's stored session and the history sent to the model."""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.conversation.message_edits import deleted_message


async def handle_message_deleted(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    deleted = deleted_message(event, body, context)
    if deleted is not None and context.get("edits") is not None:
        await context["edits"].apply_deletion(deleted)
