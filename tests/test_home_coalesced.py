"""``HomeService.coalesced``: inside a ``/coach`` subcommand, the coach's Home is published once, at
its end, however many changes asked; anyone else's refresh, and one from a task that outlives the
block, publishes as it always does."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

import bot.home.service as home_service
from bot.home.service import HomeParts, HomeService
from storage.caches import CountingTTLCache

COACH, OTHER = ("T1", "U1"), ("T1", "U2")


class Publishes:
    """The Slack client's views.publish, recorded."""

    def __init__(self) -> None:
        self.users: list[str] = []

    async def views_publish(
        self, *, user_id: str, view: dict[str, Any], hash: str | None = None
    ) -> dict[str, Any]:
        self.users.append(user_id)
        return {"ok": True, "view": {"hash": f"{len(self.users)}.0"}}


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> HomeService:
    """A Home service whose coaches U1 and U2 opened their Homes; what it shows is beside the point."""
    opened: CountingTTLCache[tuple[str, str], str] = CountingTTLCache(10, 60)
    for key in (COACH, OTHER):
        opened.set(key, "")
    nothing: Any = None  # what the Home reads from is stubbed below
    parts = HomeParts(
        store=nothing, memory=None, files=None, zones=nothing, admin=nothing, team_urls=nothing, opened=opened
    )
    service = HomeService(parts)

    async def snapshot(*_: Any) -> None:
        return None

    monkeypatch.setattr(service, "snapshot", snapshot)
    monkeypatch.setattr(home_service, "home_view", lambda _: {"type": "home", "blocks": []})
    return service


async def test_the_coachs_refreshes_inside_the_block_are_one_publish_at_its_end(home: HomeService) -> None:
    client = Publishes()
    async with home.coalesced(*COACH, cast(Any, client)):
        await home.refresh(*COACH, cast(Any, client))  # a wrap-up's hook
        await home.refresh(*COACH, cast(Any, client))
        assert client.users == []
    assert client.users == ["U1"]


async def test_another_coachs_refresh_inside_the_block_publishes_at_once(home: HomeService) -> None:
    client = Publishes()
    async with home.coalesced(*COACH, cast(Any, client)):
        await home.refresh(*OTHER, cast(Any, client))
        assert client.users == ["U2"]
    assert client.users == ["U2", "U1"]


async def test_a_task_started_in_the_block_that_refreshes_after_it_still_publishes(home: HomeService) -> None:
    client = Publishes()
    go_on = asyncio.Event()

    async def later() -> None:
        await go_on.wait()
        await home.refresh(*COACH, cast(Any, client))

    async with home.coalesced(*COACH, cast(Any, client)):
        task = asyncio.create_task(later())  # copies the block's context
    go_on.set()
    await task
    assert client.users == ["U1", "U1"]


async def test_a_forced_refresh_inside_the_block_forces_the_one_at_its_end(home: HomeService) -> None:
    client = Publishes()
    stranger = ("T1", "U3")  # never opened their Home
    async with home.coalesced(*stranger, cast(Any, client)):
        await home.refresh(*stranger, cast(Any, client), force=True)  # e.g. after an erasure
    assert client.users == ["U3"]
