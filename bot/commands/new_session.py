"""``/coach new``: a fresh session, in a new thread of the coach's DM with the bot.

The bot posts a new top-level message in the DM; the coach's first reply in its thread starts
the session (each thread is one session: nothing else needs wrapping up or deactivating, and the
coach's other sessions stay as they are, to be wrapped up or left to the idle job). The answer,
ephemeral, links to the new thread.
"""

from __future__ import annotations

import logging

from bot.commands.coach import CoachRequest
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name

logger = logging.getLogger(__name__)

HELP_LINE = "start a fresh session, in a new thread of our DM"
OPENER_TEXT = "*A fresh session.* What would you like to work on? Reply in this thread and we'll start."
FAILED_TEXT = "Sorry, I couldn't start a new session in our DM just now. Please try again in a minute."


async def new_session(request: CoachRequest) -> None:
    """Open the DM (conversations.open), post the opener, answer with a link to its thread."""
    client = request.client
    try:
        opened = await client.conversations_open(users=request.user_id)
        channel = str(opened["channel"]["id"])
        posted = await client.chat_postMessage(channel=channel, text=OPENER_TEXT)
        ts = str(posted["ts"])
    except SLACK_ERRORS as error:
        logger.warning("Could not start a new session (error=%s)", slack_error_name(error))
        await request.respond(response_type="ephemeral", text=FAILED_TEXT)
        return
    link = await _permalink(client, channel, ts)
    where = f"<{link}|this thread in our DM>" if link else "a new thread in our DM"
    await request.respond(response_type="ephemeral", text=f"A fresh session is waiting for you in {where}.")


async def _permalink(client: object, channel: str, ts: str) -> str | None:
    """chat.getPermalink (no scope needed); without it the answer still says where to look."""
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=ts)  # type: ignore[attr-defined]
    except SLACK_ERRORS as error:
        logger.info("No permalink for the new session (error=%s)", slack_error_name(error))
        return None
    return str(response.get("permalink") or "") or None
