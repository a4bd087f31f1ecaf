"""A new thread in the older assistant view: greet a new coach and offer a few ways to begin.

Slack sends this only to apps still on ``assistant_view``; the agent view sends
``app_home_opened`` instead. Both go through the same ``AgentPanel``, so one click that brings
both events greets once. Bolt's ``say`` and ``set_suggested_prompts`` are bound to the thread.
"""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts


async def handle_thread_started(
    payload: dict[str, Any],
    context: AsyncBoltContext,
    say: AsyncSay,
    set_suggested_prompts: AsyncSetSuggestedPrompts,
) -> None:
    user_id = payload["assistant_thread"]["user_id"]
    await context["agent_panel"].opened(context.team_id, user_id, say, set_suggested_prompts)
