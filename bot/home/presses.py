"""Button presses on the App Home: whose Home it is, and how to answer there.

A Home is one person's: its view carries its owner in ``private_metadata``, and a press that
arrives on a Home by anyone else (a crafted payload) is refused before anything is looked up.
What the press is about is still checked against our tables by the service it goes to.

A press on a Home has no ``response_url``: the services' ephemeral notes ("that is no longer in
your memory") open a small modal for the presser instead, and a reply that would replace the
message is dropped, as the Home is re-published with the change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.home.service import HomeService
from bot.home.view import owner_metadata
from storage.memory_records import Coach

logger = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]
NOT_YOUR_HOME = "This Home belongs to someone else, so I've left it as it is."
NOTICE_TITLE = "coachbot"


def notice_view(text: str) -> dict[str, Any]:
    """A one-line modal: the ephemeral answer of a press on the Home (only the presser sees it)."""
    return View(
        type="modal",
        title=PlainTextObject(text=NOTICE_TITLE),
        close=PlainTextObject(text="OK"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    ).to_dict()


@dataclass(frozen=True)
class Press:
    """Where a press came from, who made it, and how to answer them."""

    presser: Coach
    on_home: bool
    allowed: bool
    respond: Respond


def press_of(body: dict[str, Any], presser: Coach, respond: Respond | None, client: AsyncWebClient) -> Press:
    """The press as our rules see it: on a Home, only its owner's is allowed."""
    view = body.get("view") or {}
    on_home = (body.get("container") or {}).get("type") == "view" and view.get("type") == "home"
    if not on_home:
        return Press(presser, False, True, respond or _nowhere)
    allowed = view.get("private_metadata") == owner_metadata(presser.team_id, presser.user_id)
    return Press(presser, True, allowed, _notice_responder(client, str(body.get("trigger_id") or "")))


def _notice_responder(client: AsyncWebClient, trigger_id: str) -> Respond:
    async def respond(*, text: str = "", replace_original: bool | None = None, **_: Any) -> None:
        if replace_original or not text:
            return  # the Home is re-published instead
        try:
            await client.views_open(trigger_id=trigger_id, view=notice_view(text))
        except SLACK_ERRORS as error:
            logger.warning("Could not answer a press on a Home (error=%s)", slack_error_name(error))

    return respond


async def _nowhere(**_: Any) -> None:
    """A press with nowhere to answer (no response_url): nothing to say it on."""


async def refuse(press: Press) -> None:
    logger.info("A press on someone else's Home was refused")
    await press.respond(text=NOT_YOUR_HOME, replace_original=False)


async def after_change(home: HomeService | None, press: Press, client: AsyncWebClient) -> None:
    """Re-publish the presser's Home: at once when the press was on it, else if they opened it."""
    if home is not None:
        await home.refresh(press.presser.team_id, press.presser.user_id, client, force=press.on_home)
