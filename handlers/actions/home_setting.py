"""A settings toggle (``home_*``) on the App Home or under ``/coach settings``: ack, then switch it."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.home.presses import press_of
from bot.home.toggles import toggle
from handlers.actions.presser import action_value, presser


async def handle_home_setting(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    home = context.get("home")
    if home is None:
        return
    action_id = str(((body.get("actions") or [{}])[0]).get("action_id") or "")
    await toggle(home, press_of(body, presser(body), respond, client), action_id, action_value(body), client)
