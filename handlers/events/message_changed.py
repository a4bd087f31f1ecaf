"""A message was edited: the coach's stored message gets the new text (a tombstone removes it)."""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.conversation.message_edits import edited_message


async def handle_message_changed(
    event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
) -> None:
    edit = edited_message(event, body, context)
    if edit is not None and context.get("edits") is not None:
        await context["edits"].apply_edit(*edit)
