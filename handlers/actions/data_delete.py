"""Delete my data (App Home's button): ack, then the confirmation modal, with the press's trigger."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import presser


async def handle_data_delete(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await ack()  # views.open follows at once: the trigger_id lasts 3 seconds
    erase = context.get("erase")
    if erase is not None:
        await erase.open_confirmation(presser(body), str(body.get("trigger_id") or ""), client)
