"""Delete under an item of ``/coach memory``: ack, then the item goes (if it is the presser's)."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond

from handlers.actions.presser import action_value, presser


async def handle_memory_delete(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    commands = context.get("memory_commands")
    if commands is not None:
        await commands.delete(action_value(body), presser(body), respond)
