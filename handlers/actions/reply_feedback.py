"""The feedback buttons under a reply (👍 / 👎): ack, then the feedback service stores the press."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.actions.presser import action_value, presser


async def handle_reply_feedback(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    feedback = context.get("feedback")
    if feedback is None:
        return
    container = body.get("container") or {}
    message = body.get("message") or {}
    await feedback.press(
        presser(body),
        action_value(body),
        channel_id=str(container.get("channel_id") or (body.get("channel") or {}).get("id") or ""),
        thread_ts=str(container.get("thread_ts") or message.get("thread_ts") or ""),
        message_ts=str(container.get("message_ts") or message.get("ts") or ""),
        client=client,
        respond=respond,
    )
