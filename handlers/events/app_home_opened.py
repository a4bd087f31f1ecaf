"""The coach opened the bot's App Home: the Messages tab is the agent view.

``tab == "messages"`` replaces ``assistant_thread_started`` in Slack's agent view: greet a new
coach and set the suggested prompts, with Bolt's ``say`` and ``set_suggested_prompts`` (bound to
the DM, no thread). The Home tab is off in the manifest; an open of it is only acknowledged.
"""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts


async def is_messages_tab(event: dict[str, Any]) -> bool:
    return event.get("tab") == "messages"


async def handle_messages_tab_opened(
    event: dict[str, Any],
    context: AsyncBoltContext,
    say: AsyncSay,
    set_suggested_prompts: AsyncSetSuggestedPrompts,
) -> None:
    await context["agent_panel"].opened(context.team_id, event["user"], say, set_suggested_prompts)


async def acknowledge_home_tab_opened() -> None:
    return None
