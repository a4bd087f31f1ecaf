"""Done / Not yet / Let's talk under a check-in: ack at once, then the check-in service answers
(and the coach's App Home, if they opened it, shows the commitment's new state)."""

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.checkins.service import CheckinPress
from handlers.actions.presser import presser


async def handle_checkin_answer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    await ack()
    service = context.get("checkins")
    if service is None:  # an app assembled without check-ins (some tests)
        return
    container = body.get("container") or {}
    coach = presser(body)
    press = CheckinPress(
        action_id=str(action.get("action_id") or ""),
        value=str(action.get("value") or ""),
        team_id=coach.team_id,
        user_id=coach.user_id,
        channel_id=str(container.get("channel_id") or (body.get("channel") or {}).get("id") or ""),
        message_ts=str(container.get("message_ts") or ""),
    )
    await service.answer(press, respond)
    home = context.get("home")
    if home is not None:
        await home.refresh(coach.team_id, coach.user_id, client)
