"""The emulator enforces Slack's per-method, per-workspace rate tiers the way Slack answers them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from devkit.slack_emulator import METHOD_LIMITS, EmulatorRules, Limit, SlackEmulator
from tests.fixtures.clock import FakeClock

TOKEN = "xoxb-devkit"


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[SlackEmulator]:
    """An emulator whose budgets refill only when the test moves the clock."""
    with SlackEmulator(clock=clock) as started:
        yield started


def web(emulator: SlackEmulator, **kwargs: Any) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=TOKEN, retry_handlers=[], **kwargs)


def start_stream(client: WebClient, n: int = 0) -> Any:
    return client.chat_startStream(channel="D0COACH", thread_ts=f"1700000000.{n:06d}")


def test_start_stream_allows_a_tier_2_burst_then_answers_429_with_retry_after(
    emulator: SlackEmulator, clock: FakeClock
) -> None:
    client = web(emulator)
    for n in range(20):
        assert start_stream(client, n)["ok"]

    with pytest.raises(SlackApiError) as refused:
        start_stream(client, 20)

    response = refused.value.response
    assert response.status_code == 429
    assert response.data == {"ok": False, "error": "ratelimited"}
    assert response.headers["Retry-After"] in ("3", ["3"])  # 20 a minute: one every 3 s
    clock.advance(3)
    assert start_stream(client, 21)["ok"]
    assert [c.status for c in emulator.calls_to("chat.startStream")][-2:] == [429, 200]


def test_append_stream_is_tier_4_and_stop_stream_tier_2(emulator: SlackEmulator) -> None:
    client = web(emulator)
    ts = start_stream(client)["ts"]
    for _ in range(100):
        client.chat_appendStream(channel="D0COACH", ts=ts, markdown_text="w ")

    with pytest.raises(SlackApiError) as refused:
        client.chat_appendStream(channel="D0COACH", ts=ts, markdown_text="w ")

    assert refused.value.response.status_code == 429
    assert METHOD_LIMITS["chat.stopStream"] == Limit(per_minute=20, burst=20)
    assert METHOD_LIMITS["chat.update"] == Limit(per_minute=50, burst=50)


def test_post_message_is_about_one_a_second_per_channel_with_a_short_burst(
    emulator: SlackEmulator, clock: FakeClock
) -> None:
    client = web(emulator)
    for n in range(3):
        client.chat_postMessage(channel="C0ONE", text=str(n))

    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C0ONE", text="too soon")

    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] in ("1", ["1"])
    assert client.chat_postMessage(channel="C0TWO", text="another channel")["ok"]
    clock.advance(1)
    assert client.chat_postMessage(channel="C0ONE", text="a second later")["ok"]


def test_post_message_has_a_workspace_wide_limit_across_channels(emulator: SlackEmulator) -> None:
    client = web(emulator)
    for n in range(60):
        client.chat_postMessage(channel=f"C{n:04d}", text="hi")

    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C9999", text="one channel too many")

    assert refused.value.response.status_code == 429
    assert emulator.rate_limited() == {"chat.postMessage": 1}


def test_a_refused_call_spends_nothing_and_counts_as_a_429(emulator: SlackEmulator, clock: FakeClock) -> None:
    client = web(emulator)
    for n in range(20):
        start_stream(client, n)
    for _ in range(5):
        with pytest.raises(SlackApiError):
            start_stream(client, 99)

    clock.advance(3)

    assert start_stream(client, 21)["ok"]
    assert emulator.rate_limited() == {"chat.startStream": 5}
    with urllib.request.urlopen(f"{emulator.origin}/_devkit/rate_limits") as answer:
        assert json.load(answer) == {"enabled": True, "rate_limited": {"chat.startStream": 5}}


def test_each_workspace_has_its_own_budget(emulator: SlackEmulator) -> None:
    emulator.add_workspace("T0OTHER", "xoxb-other")
    ours, theirs = web(emulator), WebClient(base_url=emulator.base_url, token="xoxb-other", retry_handlers=[])
    for n in range(20):
        start_stream(ours, n)
    with pytest.raises(SlackApiError):
        start_stream(ours, 99)

    assert start_stream(theirs, 1)["ok"]  # another team's token: a fresh Tier 2 budget
    assert theirs.auth_test()["team_id"] == "T0OTHER"
    assert ours.auth_test()["team_id"] == "T0DEVKIT"


def test_rate_limits_can_be_turned_off_for_a_test_that_is_about_something_else(clock: FakeClock) -> None:
    with SlackEmulator(rules=EmulatorRules(rate_limits=False), clock=clock) as emulator:
        client = web(emulator)
        for n in range(50):
            start_stream(client, n)
            client.chat_postMessage(channel="C0ONE", text=str(n))

        assert emulator.rate_limited() == {}


@pytest.mark.slack_rules(rate_limits=False)
def test_the_fixtures_rules_come_from_the_slack_rules_marker(slack_emulator: SlackEmulator) -> None:
    client = web(slack_emulator)
    for n in range(30):
        client.chat_postMessage(channel="C0ONE", text=str(n))

    assert slack_emulator.rules.rate_limits is False
    assert slack_emulator.rate_limited() == {}


def test_one_method_can_be_lifted_or_tightened(clock: FakeClock) -> None:
    rules = EmulatorRules(
        method_limits={"chat.startStream": None, "chat.update": Limit(per_minute=6, burst=1)},
        channel_limits={"chat.postMessage": None},
    )
    with SlackEmulator(rules=rules, clock=clock) as emulator:
        client = web(emulator)
        for n in range(30):
            start_stream(client, n)
        for n in range(10):
            client.chat_postMessage(channel="C0ONE", text=str(n))
        ts = client.chat_postMessage(channel="C0ONE", text="edit me")["ts"]
        client.chat_update(channel="C0ONE", ts=ts, text="once")

        with pytest.raises(SlackApiError) as refused:
            client.chat_update(channel="C0ONE", ts=ts, text="twice")

        assert refused.value.response.headers["Retry-After"] in ("10", ["10"])


def test_every_method_the_emulator_implements_has_its_documented_tier(emulator: SlackEmulator) -> None:
    assert set(emulator.implemented_methods()) <= set(METHOD_LIMITS)


def test_slack_sdks_rate_limit_retry_handler_waits_the_retry_after_and_gets_through() -> None:
    rules = EmulatorRules(method_limits={"chat.startStream": Limit(per_minute=60, burst=1)})
    with SlackEmulator(rules=rules) as emulator:
        client = web(emulator)
        client.retry_handlers = [RateLimitErrorRetryHandler(max_retry_count=2)]
        start_stream(client, 1)

        assert start_stream(client, 2)["ok"]

        refused, accepted = emulator.calls_to("chat.startStream")[1:]
        assert (refused.status, accepted.status) == (429, 200)
        assert accepted.at - refused.at >= 1.0  # Retry-After: 1 was honoured, not ignored


async def test_the_async_client_and_its_retry_handler_see_the_same_429() -> None:
    rules = EmulatorRules(method_limits={"chat.update": Limit(per_minute=60, burst=1)})
    with SlackEmulator(rules=rules) as emulator:
        handlers: list[AsyncRetryHandler] = [AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
        client = AsyncWebClient(base_url=emulator.base_url, token=TOKEN, retry_handlers=handlers)
        ts = (await client.chat_postMessage(channel="C0ONE", text="draft"))["ts"]
        await client.chat_update(channel="C0ONE", ts=ts, text="one")

        assert (await client.chat_update(channel="C0ONE", ts=ts, text="two"))["ok"]

        assert [c.status for c in emulator.calls_to("chat.update")] == [200, 429, 200]
        assert emulator.rate_limited() == {"chat.update": 1}
