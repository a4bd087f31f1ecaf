"""/perf [cache|db|jobs|llm]: the admin performance report, ephemeral, in Block Kit."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient


async def handle_perf(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    # Ack first: Slack shows an error after 3 s, and the admin check may ask Slack (users.info).
    await ack()
    perf = context.get("perf")
    if perf is None:  # an app assembled without the perf service (some tests)
        await respond(response_type="ephemeral", text="/perf is not available on this server.")
        return
    await perf.answer_command(command, respond=respond, client=client)
