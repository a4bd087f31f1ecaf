"""Optional Slack calls (a status, a title, a reaction) sent without the turn waiting for them.

The one copy of "spawn it, keep a reference, forget it when done": the tasks are kept so the
event loop does not drop them, and so a shutdown can let them finish before the Slack session
closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.delivery.reply_message import best_effort


class BackgroundCalls:
    """Best-effort Slack calls in flight; one per process, shared by every conversation."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, call: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
        """Run ``call`` in the background; its Slack failure is only worth a DEBUG line."""
        task = asyncio.create_task(best_effort(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Let the calls in flight finish (they are short), before the Slack session closes."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
