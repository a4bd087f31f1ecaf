"""Delete under a remembered item (``/coach memory``, the App Home): ack, then the item goes (if it
is the presser's), and the presser's Home is re-published."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.home.presses import after_change
from handlers.actions.presser import action_value, allowed_press


async def handle_memory_delete(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    commands = context.get("memory_commands")
    if commands is None:
        return
    press = await allowed_press(body, respond, client)
    if press is None:
        return
    await commands.delete(action_value(body), press.presser, press.respond)
    await after_change(context.get("home"), press, client)
