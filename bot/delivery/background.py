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
        task = asyncio.create_task(_after_ready_work(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # Cancelled before it started (a shutdown): close the call, no "never awaited" warning.
        task.add_done_callback(lambda _: call.close())
        return task

    async def drain(self, timeout: float) -> None:
        """Let the calls in flight finish (they are short), before the Slack session closes."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


async def _after_ready_work(call: Coroutine[Any, Any, Any]) -> None:
    """``call``, once the work already scheduled on the loop has had its turn.

    A turn shows "is thinking…" and then starts the model's stream in the same loop iteration:
    without this yield the status call's request was built and sent first, ~0.4 ms on the way
    to every model request (bench/, ``--scenario turn``). The status still shows well before
    the model's first token.
    """
    await asyncio.sleep(0)
    await best_effort(call)
