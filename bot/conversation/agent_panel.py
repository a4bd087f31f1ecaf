"""What the agent view shows before the coach has said anything: a greeting and a few prompts.

In Slack's agent view (``agent_view`` in the manifest) the coach opens the bot's Messages tab
and Slack sends ``app_home_opened`` with ``tab == "messages"``; apps still on the older
assistant view get ``assistant_thread_started`` for each new panel thread instead. Both come
here. The suggested prompts are set every time (they sit above the composer); the greeting is
posted once, to a coach who has never coached here (``storage.greetings``), so opening the tab
twice, a Slack retry, or both events for one click never greet twice.

The prompts match the manifest's ``agent_view.suggested_prompts`` (tests/test_manifest.py checks).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.reply_message import SLACK_ERRORS
from storage.engine import SqliteWriter
from storage.greetings import GreetingLedger

logger = logging.getLogger(__name__)

GREETING = (
    "Hi, I'm coachbot. Tell me what's on your mind — a conversation you're preparing for, "
    "a goal, or something that's been hard this week — and we'll work through it together. "
    "Each thread is its own coaching session."
)

SUGGESTED_PROMPTS_TITLE = "Some places to start"

#: Slack shows at most 4 (assistant.threads.setSuggestedPrompts, agent_view.suggested_prompts).
SUGGESTED_PROMPTS = [
    {
        "title": "Set a goal",
        "message": "Help me turn a vague goal for this quarter into something specific and measurable.",
    },
    {
        "title": "Prepare a hard conversation",
        "message": "I need to give critical feedback to a teammate. Help me plan what to say.",
    },
    {
        "title": "Reflect on my week",
        "message": (
            "Ask me a few questions to help me reflect on what went well this week and what to change."
        ),
    },
]

Say = Callable[..., Awaitable[Any]]
SetSuggestedPrompts = Callable[..., Awaitable[Any]]


class AgentPanel:
    """Greets a new coach once and offers the prompts, whichever Slack surface opened."""

    def __init__(self, greetings: GreetingLedger | None = None) -> None:
        """``greetings`` None (an app without a database) greets on every open."""
        self._greetings = greetings

    @classmethod
    def on_database(cls, engine: AsyncEngine, sqlite_writer: SqliteWriter | None) -> AgentPanel:
        """Greetings claimed in the app's database (``sqlite_writer``: the conversation store's)."""
        return cls(GreetingLedger(engine, sqlite_writer=sqlite_writer))

    async def opened(
        self, team_id: str | None, user_id: str, say: Say, set_suggested_prompts: SetSuggestedPrompts
    ) -> bool:
        """The coach opened the agent view (or a panel thread); True when they were greeted.

        ``say`` and ``set_suggested_prompts`` are Bolt's, already bound to the right place: the
        DM itself for ``app_home_opened`` (no ``thread_ts``: with one, Slack silently drops the
        prompts in the agent view), the new thread for ``assistant_thread_started``.
        """
        greeted = False
        try:
            if await self._first_time(team_id or "", user_id):
                await say(text=GREETING)
                greeted = True
            # After the greeting: without a thread_ts the prompts attach to the latest message.
            await set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title=SUGGESTED_PROMPTS_TITLE)
        except SLACK_ERRORS as error:
            logger.warning(
                "Could not set up the agent view (user=%s, error=%s)", user_id, type(error).__name__
            )
        return greeted

    async def _first_time(self, team_id: str, user_id: str) -> bool:
        if self._greetings is None:
            return True
        try:
            return await self._greetings.claim_first_greeting(team_id, user_id)
        except Exception as error:  # no greeting beats a second one; the prompts still come
            logger.warning("Could not check for an earlier greeting (error=%s)", type(error).__name__)
            return False
