"""The per-workspace Slack budget: Slack's tiers, bursts, 429 pauses, and the shared append rate."""

from __future__ import annotations

from bot.delivery.slack_budget import (
    APPEND_STREAM,
    POST_MESSAGE,
    START_STREAM,
    STOP_STREAM,
    Limit,
    SlackRateBudget,
)
from tests.fixtures.clock import FakeClock

LIMITS = {
    START_STREAM: Limit(per_minute=20, burst=2),
    STOP_STREAM: Limit(per_minute=20, burst=2),
    APPEND_STREAM: Limit(per_minute=100, burst=10),
    POST_MESSAGE: Limit(per_minute=600, burst=5),
    "chat.postMessage#channel": Limit(per_minute=60, burst=1),
}


def budget_at(clock: FakeClock) -> SlackRateBudget:
    return SlackRateBudget(LIMITS, clock=clock)


def test_a_burst_is_allowed_then_calls_come_at_the_tiers_rate(clock: FakeClock) -> None:
    budget = budget_at(clock)

    assert budget.try_take("T1", START_STREAM) and budget.try_take("T1", START_STREAM)
    assert not budget.try_take("T1", START_STREAM)
    clock.advance(3.0)  # Tier 2: 20 a minute, one every 3 s
    assert budget.try_take("T1", START_STREAM)
    assert not budget.try_take("T1", START_STREAM)


def test_each_workspace_and_each_method_has_its_own_budget(clock: FakeClock) -> None:
    budget = budget_at(clock)
    for _ in range(2):
        budget.try_take("T1", START_STREAM)

    assert not budget.try_take("T1", START_STREAM)
    assert budget.try_take("T2", START_STREAM)
    assert budget.try_take("T1", STOP_STREAM)


def test_several_methods_are_taken_together_or_not_at_all(clock: FakeClock) -> None:
    budget = budget_at(clock)
    for _ in range(2):
        budget.try_take("T1", STOP_STREAM)

    assert not budget.try_take("T1", START_STREAM, STOP_STREAM)
    assert budget.try_take("T1", START_STREAM) and budget.try_take("T1", START_STREAM)  # none was spent


def test_a_429_empties_the_method_and_pauses_it_for_retry_after(clock: FakeClock) -> None:
    budget = budget_at(clock)

    budget.rate_limited("T1", APPEND_STREAM, retry_after=5)

    assert not budget.try_take("T1", APPEND_STREAM)
    clock.advance(4.9)
    assert not budget.try_take("T1", APPEND_STREAM)
    clock.advance(0.7)  # past the pause, and 0.6 s of refill at 100 a minute
    assert budget.try_take("T1", APPEND_STREAM)
    assert budget.try_take("T1", START_STREAM), "other methods are not paused"


def test_chat_post_message_is_limited_per_channel_too(clock: FakeClock) -> None:
    budget = budget_at(clock)

    assert budget.try_take("T1", POST_MESSAGE, channel="D1")
    assert not budget.try_take("T1", POST_MESSAGE, channel="D1")
    assert budget.try_take("T1", POST_MESSAGE, channel="D2")


async def test_a_call_that_must_happen_waits_for_the_budget() -> None:
    budget = SlackRateBudget({STOP_STREAM: Limit(per_minute=600, burst=1)})  # one every 0.1 s

    assert await budget.take("T1", STOP_STREAM) == 0.0
    waited = await budget.take("T1", STOP_STREAM)

    assert 0.05 < waited < 0.5


def test_open_streams_share_the_append_rate(clock: FakeClock) -> None:
    budget = budget_at(clock)
    assert budget.append_interval("T1", at_least=1.0) == 1.0

    for _ in range(5):
        budget.stream_opened("T1")
    assert budget.append_interval("T1", at_least=1.0) == 3.0  # 5 streams at 100 a minute
    for _ in range(5):
        budget.stream_closed("T1")
    assert budget.open_streams("T1") == 0


def test_a_disabled_budget_never_refuses(clock: FakeClock) -> None:
    budget = SlackRateBudget(LIMITS, enabled=False, clock=clock)

    assert all(budget.try_take("T1", START_STREAM) for _ in range(100))


def test_without_pacing_only_slacks_own_429s_pause_a_method(clock: FakeClock) -> None:
    budget = SlackRateBudget({}, clock=clock)  # SLACK_RATE_BUDGET=off
    assert all(budget.try_take("T1", START_STREAM, STOP_STREAM) for _ in range(100))

    budget.rate_limited("T1", START_STREAM, retry_after=30)

    assert not budget.try_take("T1", START_STREAM)
    clock.advance(30.1)
    assert budget.try_take("T1", START_STREAM)
