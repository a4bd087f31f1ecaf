"""The Wrap up button under a reply: ack, then the memory service ends the session."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import action_value, presser


async def handle_wrap_up(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    memory = context.get("memory")
    if memory is not None:
        await memory.press_wrap_up(action_value(body), presser(body), client, respond)
