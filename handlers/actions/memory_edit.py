"""Edit under an item of ``/coach memory`` opens a modal; its submission saves the new words."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import action_value, presser


async def handle_memory_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()  # views.open follows at once: the trigger_id lasts 3 seconds
    commands = context.get("memory_commands")
    if commands is not None:
        await commands.open_edit(
            action_value(body), presser(body), str(body.get("trigger_id") or ""), client, respond
        )


async def handle_memory_edit_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> None:
    commands = context.get("memory_commands")
    if commands is None:
        await ack()
        return
    values = (view.get("state") or {}).get("values") or {}
    errors = await commands.save_edit(str(view.get("private_metadata") or ""), values, presser(body))
    if errors:
        await ack(**errors)  # response_action "errors": the modal stays open and says why
    else:
        await ack()
