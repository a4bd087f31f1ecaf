"""A commitment's Done button (under a summary, a check-in, or on the App Home): ack, then the memory
service marks it done (if it is the presser's), and the presser's Home is re-published."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.home.presses import after_change
from handlers.actions.presser import action_value, allowed_press


async def handle_commitment_done(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    memory = context.get("memory")
    if memory is None:
        return
    press = await allowed_press(body, respond, client)
    if press is None:
        return
    message = body.get("message") or {}
    await memory.press_done(
        action_value(body),
        press.presser,
        client,
        press.respond,
        channel_id=str((body.get("channel") or {}).get("id") or ""),
        message_ts=str(message.get("ts") or ""),
        blocks=list(message.get("blocks") or []),
    )
    await after_change(context.get("home"), press, client)
