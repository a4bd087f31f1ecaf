"""Optional Slack calls (status, title, reactions) run in the background, after the turn's own work."""

from __future__ import annotations

import asyncio
import warnings

from bot.delivery.background import BackgroundCalls


async def test_work_scheduled_after_a_background_call_still_runs_first() -> None:
    """The status is spawned just before the model's stream: the stream's request leaves first."""
    order: list[str] = []

    async def status() -> None:
        order.append("status")

    async def model_request() -> None:
        order.append("model request")

    calls = BackgroundCalls()
    spawned = calls.spawn(status())
    stream = asyncio.ensure_future(model_request())
    await asyncio.gather(spawned, stream)
    assert order == ["model request", "status"]


async def test_background_calls_keep_their_order_and_drain_finishes_them() -> None:
    order: list[int] = []

    async def call(n: int) -> None:
        order.append(n)

    calls = BackgroundCalls()
    for n in range(3):
        calls.spawn(call(n))
    await calls.drain(timeout=5)
    assert order == [0, 1, 2]


async def test_a_call_cancelled_before_it_started_is_closed_without_a_warning() -> None:
    async def never() -> None:
        raise AssertionError("must not run")

    calls = BackgroundCalls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = calls.spawn(never())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
