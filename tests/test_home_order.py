"""``HomeService.refresh`` in one process: a coach's refreshes are single-flight with one trailing
run, so the Home is never overwritten by an older render, N asks during a publish cost at most one
more publish (from a snapshot read after the last ask), a forced ask is remembered, and nothing is
kept for a coach once their refresh is over. Each publish sends the hash Slack gave for the last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError

import bot.home.service as home_service
from bot.home.service import HomeParts, HomeService
from storage.caches import CountingTTLCache
from tests.fixtures.waiting import until

COACH, STRANGER = ("T1", "U1"), ("T1", "U3")


class HeldSlack:
    """views.publish that waits for the test's go; records each view and the hash it came with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []
        self.go = asyncio.Event()

    async def views_publish(
        self, *, user_id: str, view: dict[str, Any], hash: str | None = None
    ) -> dict[str, Any]:
        self.calls.append((user_id, view, hash))
        await asyncio.wait_for(self.go.wait(), timeout=5.0)  # a regression fails, never hangs
        return {"ok": True, "view": {"id": "V1", "hash": f"H{len(self.calls)}"}}

    def shown(self) -> list[str]:
        """Which version of the data each publish showed."""
        return [view["private_metadata"] for _, view, _ in self.calls]


class Data:
    """What the coach's rows say now: a version the test moves on, read by each snapshot."""

    version = 0


async def at_once(refresh: Awaitable[bool]) -> bool:
    """A refresh asked while the coach's runs: it must answer without waiting for Slack."""
    return await asyncio.wait_for(refresh, timeout=2.0)


def _view_of(version: int) -> dict[str, Any]:
    return {"type": "home", "blocks": [], "private_metadata": str(version)}


@pytest.fixture
def opened() -> CountingTTLCache[tuple[str, str], str]:
    cache: CountingTTLCache[tuple[str, str], str] = CountingTTLCache(10, 60)
    cache.set(COACH, "")
    return cache


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, opened: CountingTTLCache[tuple[str, str], str]) -> HomeService:
    """A Home service whose coach U1 opened their Home; its view shows the data's version."""
    nothing: Any = None  # what the Home reads from is stubbed below
    parts = HomeParts(
        store=nothing, memory=None, files=None, zones=nothing, admin=nothing, team_urls=nothing, opened=opened
    )
    service = HomeService(parts)

    async def snapshot(*_: Any) -> int:
        return Data.version

    monkeypatch.setattr(Data, "version", 0)
    monkeypatch.setattr(service, "snapshot", snapshot)
    monkeypatch.setattr(home_service, "home_view", _view_of)
    return service


async def test_asks_during_a_publish_cost_one_more_publish_of_data_read_after_the_last_ask(
    home: HomeService, opened: CountingTTLCache[tuple[str, str], str]
) -> None:
    slack = HeldSlack()
    client = cast(Any, slack)
    running = asyncio.create_task(home.refresh(*COACH, client))
    await until(lambda: len(slack.calls) == 1)
    for version in range(1, 11):  # ten changes (presses, a wrap-up's hook) while it publishes
        Data.version = version
        assert await at_once(home.refresh(*COACH, client)) is True, "the running one publishes again"
    assert len(slack.calls) == 1
    slack.go.set()

    assert await running is True
    assert slack.shown() == ["0", "10"], "the last publish shows the newest data"
    assert [sent for _, _, sent in slack.calls] == [None, "H1"], "each publish sends the hash of the last"
    assert opened.get(COACH) == "H2"
    assert home._flights == {}, "nothing kept once the coach's refresh is over"


async def test_refreshes_one_after_another_each_publish(home: HomeService) -> None:
    slack = HeldSlack()
    slack.go.set()
    for version in (1, 2, 3):
        Data.version = version
        assert await home.refresh(*COACH, cast(Any, slack)) is True
    assert slack.shown() == ["1", "2", "3"]
    assert [sent for _, _, sent in slack.calls] == [None, "H1", "H2"]


async def test_another_coachs_refresh_is_not_held_by_this_ones(
    home: HomeService, opened: CountingTTLCache[tuple[str, str], str]
) -> None:
    held, other = HeldSlack(), HeldSlack()
    other.go.set()
    opened.set(("T1", "U2"), "")
    running = asyncio.create_task(home.refresh(*COACH, cast(Any, held)))
    await until(lambda: len(held.calls) == 1)
    assert await home.refresh("T1", "U2", cast(Any, other)) is True
    assert [user for user, _, _ in other.calls] == ["U2"]
    held.go.set()
    await running
    assert len(held.calls) == 1


async def test_a_forced_ask_during_a_publish_is_remembered_for_the_trailing_run(
    home: HomeService, opened: CountingTTLCache[tuple[str, str], str]
) -> None:
    slack = HeldSlack()
    client = cast(Any, slack)
    running = asyncio.create_task(home.refresh(*STRANGER, client, force=True))  # never opened
    await until(lambda: len(slack.calls) == 1)
    opened.pop(STRANGER)  # an erasure drops the entry that says they opened it…
    Data.version = 1
    assert await at_once(home.refresh(*STRANGER, client, force=True)) is True  # …and forces the Home
    slack.go.set()
    await running
    assert slack.shown() == ["0", "1"]


async def test_an_unforced_ask_for_a_home_forgotten_meanwhile_publishes_nothing_more(
    home: HomeService, opened: CountingTTLCache[tuple[str, str], str]
) -> None:
    slack = HeldSlack()
    client = cast(Any, slack)
    running = asyncio.create_task(home.refresh(*COACH, client))
    await until(lambda: len(slack.calls) == 1)
    assert await at_once(home.refresh(*COACH, client)) is True
    opened.pop(COACH)
    slack.go.set()
    await running
    assert slack.shown() == ["0"]


async def test_a_coalesced_block_during_a_publish_asks_once_at_its_end(home: HomeService) -> None:
    slack = HeldSlack()
    client = cast(Any, slack)
    running = asyncio.create_task(home.refresh(*COACH, client))
    await until(lambda: len(slack.calls) == 1)
    async with home.coalesced(*COACH, client):
        Data.version = 1
        await at_once(home.refresh(*COACH, client))
        assert len(slack.calls) == 1
    slack.go.set()
    await running
    assert slack.shown() == ["0", "1"]


async def test_a_refresh_never_raises_when_slack_fails_the_trailing_publish(home: HomeService) -> None:
    class FailingSecond(HeldSlack):
        async def views_publish(
            self, *, user_id: str, view: dict[str, Any], hash: str | None = None
        ) -> dict[str, Any]:
            answer = await super().views_publish(user_id=user_id, view=view, hash=hash)
            if len(self.calls) == 2:
                raise SlackApiError("refused", {"ok": False, "error": "internal_error"})
            return answer

    slack = FailingSecond()
    client = cast(Any, slack)
    running = asyncio.create_task(home.refresh(*COACH, client))
    await until(lambda: len(slack.calls) == 1)
    assert await at_once(home.refresh(*COACH, client)) is True
    slack.go.set()
    assert await running is False, "the last publish failed: logged, not raised"
    assert home._flights == {}
