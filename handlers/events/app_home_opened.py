"""The coach opened the bot's App Home: the Messages tab is the agent view, the Home tab their Home.

``tab == "messages"`` replaces ``assistant_thread_started`` in Slack's agent view: greet a new
coach and set the suggested prompts, with Bolt's ``say`` and ``set_suggested_prompts`` (bound to
the DM, no thread). ``tab == "home"``: the Home service publishes the coach's Home (one
views.publish), with the workspace URL Bolt's authorization already has for the thread links, and
the ``hash`` of the Home Slack shows now (its ``view``, sent once a Home was published).
"""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts
from slack_sdk.web.async_client import AsyncWebClient


async def is_messages_tab(event: dict[str, Any]) -> bool:
    return event.get("tab") == "messages"


async def is_home_tab(event: dict[str, Any]) -> bool:
    return event.get("tab") == "home"


async def handle_messages_tab_opened(
    event: dict[str, Any],
    context: AsyncBoltContext,
    say: AsyncSay,
    set_suggested_prompts: AsyncSetSuggestedPrompts,
) -> None:
    await context["agent_panel"].opened(context.team_id, event["user"], say, set_suggested_prompts)


async def handle_home_tab_opened(
    event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    home = context.get("home")
    if home is None:  # an app assembled without it (some tests)
        return
    authorized = context.authorize_result
    team_url = authorized.url if authorized is not None else None
    view = event.get("view") or {}
    await home.opened(
        str(context.team_id or ""),
        str(event.get("user") or ""),
        client,
        team_url=team_url,
        view_hash=str(view.get("hash") or "") or None,
    )


async def acknowledge_home_tab_opened() -> None:
    return None
