"""The delete modal's submission: acked with "deleting…" (or a refusal), then the erase runs."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import presser


async def handle_data_delete_confirmed(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    erase = context.get("erase")
    if erase is None:
        await ack()
        return
    submitter = presser(body)
    answer, go_ahead = erase.acknowledgement(view, submitter)
    await ack(**answer)  # within Slack's 3 seconds; the erase may take longer
    if go_ahead:
        await erase.confirmed(submitter, str(view.get("id") or ""), client)
