"""A new agent-panel thread: greet the coach and offer a few ways to begin."""

from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts

from bot.agent_panel import GREETING, SUGGESTED_PROMPTS, SUGGESTED_PROMPTS_TITLE


async def handle_thread_started(say: AsyncSay, set_suggested_prompts: AsyncSetSuggestedPrompts) -> None:
    await say(GREETING)
    await set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title=SUGGESTED_PROMPTS_TITLE)
