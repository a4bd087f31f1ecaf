"""A commitment's Done button: ack, then the memory service marks it done (if it is the presser's)."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import action_value, presser


async def handle_commitment_done(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    memory = context.get("memory")
    if memory is None:
        return
    message = body.get("message") or {}
    await memory.press_done(
        action_value(body),
        presser(body),
        client,
        respond,
        channel_id=str((body.get("channel") or {}).get("id") or ""),
        message_ts=str(message.get("ts") or ""),
        blocks=list(message.get("blocks") or []),
    )
