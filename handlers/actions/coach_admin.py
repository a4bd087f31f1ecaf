"""A workspace admin changed a setting in ``/coach admin``'s message: ack, then the service saves it."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient


async def handle_coach_admin_choice(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    admin = context.get("workspace_admin")
    if admin is None:  # single-token mode: the settings are the deployment's
        return
    await admin.choose(body, respond=respond, client=client)
