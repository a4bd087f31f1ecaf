"""/coach <subcommand>: ack at once, then the router in bot/commands/coach.py answers.

Many subcommands change what the coach's App Home shows (memory on or off, forget, check-ins,
wrap): afterwards it is re-published once, only if the coach opened it (a cache look-up
otherwise), however many of the subcommand's changes asked for it (``HomeService.coalesced``).
"""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient


async def handle_coach(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    router = context.get("coach_command")
    if router is None:  # an app assembled without it (some tests)
        await respond(response_type="ephemeral", text="/coach is not available on this server.")
        return
    home = context.get("home")
    if home is None:
        await router.answer(command, respond=respond, client=client, context=context)
        return
    async with home.coalesced(str(command.get("team_id") or ""), str(command.get("user_id") or ""), client):
        await router.answer(command, respond=respond, client=client, context=context)
