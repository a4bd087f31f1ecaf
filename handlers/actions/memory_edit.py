"""Edit under a remembered item (``/coach memory``, the App Home) opens a modal; its submission saves
the new words, and the coach's Home is re-published if they opened it."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import action_value, allowed_press, presser


async def handle_memory_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()  # views.open follows at once: the trigger_id lasts 3 seconds
    commands = context.get("memory_commands")
    if commands is None:
        return
    press = await allowed_press(body, respond, client)
    if press is None:
        return
    await commands.open_edit(
        action_value(body), press.presser, str(body.get("trigger_id") or ""), client, press.respond
    )


async def handle_memory_edit_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    commands = context.get("memory_commands")
    if commands is None:
        await ack()
        return
    values = (view.get("state") or {}).get("values") or {}
    coach = presser(body)
    errors = await commands.save_edit(str(view.get("private_metadata") or ""), values, coach)
    if errors:
        await ack(**errors)  # response_action "errors": the modal stays open and says why
        return
    await ack()
    home = context.get("home")
    if home is not None:
        await home.refresh(coach.team_id, coach.user_id, client)
