"""The Export my data button (Home tab, or Try again in the DM): ack, then the export service."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import presser


async def handle_data_export(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    export = context.get("data_export")
    if export is None:
        return
    await export.press(body, presser(body), client, respond)
