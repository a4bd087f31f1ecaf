"""The reply writer against the Slack emulator: few calls, whole text, every stream closed.

The client is the app's own (``build_slack_client``: slack_sdk's retry handlers, which tell the
budget of every 429), so rate limits are answered the way they are in production. The
``slack_emulator`` fixture fails a test that leaves a stream open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.assembly.app import build_slack_client
from bot.assembly.config import Settings
from bot.conversation.turn_values import Surface
from bot.delivery.conversation import SlackConversation, SlackDelivery
from bot.delivery.reply_message import ThreadTarget
from bot.delivery.slack_budget import SLACK_LIMITS, START_STREAM, UPDATE, Limit, SlackRateBudget
from bot.delivery.streaming import (
    CUT_NOTE,
    SLACK_TROUBLE_NOTE,
    SlackReplyWriter,
    StreamingSupport,
)
from devkit.slack_emulator import Message, SlackEmulator
from tests.fixtures.waiting import until

TARGET = ThreadTarget(channel_id="D0W", thread_ts="1700000000.000100", team_id="T0DEVKIT", user_id="U0COACH")
#: The rate budget's key: Slack's limits are per app per workspace (the team).
WORKSPACE = "T0DEVKIT"


@pytest.fixture
def budget() -> SlackRateBudget:
    return SlackRateBudget()


@pytest.fixture
async def client(slack_emulator: SlackEmulator, budget: SlackRateBudget) -> AsyncIterator[AsyncWebClient]:
    settings = Settings(slack_bot_token=slack_emulator.bot_token, slack_api_url=slack_emulator.base_url)
    client = build_slack_client(settings, budget=budget)
    yield client
    assert client.session is not None
    await client.session.close()


def writer_for(
    client: AsyncWebClient,
    budget: SlackRateBudget,
    *,
    interval: float = 0.05,
    part_chars: int = 11_000,
) -> SlackReplyWriter:
    return SlackReplyWriter(
        conversation_in(client, budget),
        streaming=StreamingSupport(),
        flush_interval=interval,
        part_chars=part_chars,
    )


def conversation_in(client: AsyncWebClient, budget: SlackRateBudget) -> SlackConversation:
    """The turn's conversation, as a listener builds it: the thread, its coach, the workspace's budget."""
    return SlackDelivery(budget).for_thread(
        client,
        channel_id=TARGET.channel_id,
        thread_ts=TARGET.thread_ts,
        team_id=TARGET.team_id,
        user_id=TARGET.user_id,
        surface=Surface.DIRECT_MESSAGE,
    )


def spent_budget(client: AsyncWebClient, *spent: str) -> SlackRateBudget:
    """The workspace's budget with nothing left of ``spent`` for a minute."""
    budget = SlackRateBudget({**SLACK_LIMITS, **{method: Limit(per_minute=1, burst=1) for method in spent}})
    assert budget.try_take(WORKSPACE, *spent)
    return budget


def methods(slack: SlackEmulator) -> list[str]:
    return [c.method for c in slack.calls if c.method.startswith("chat.")]


def replies(slack: SlackEmulator) -> list[Message]:
    return slack.replies_in(TARGET.channel_id, TARGET.thread_ts)


def thread_text(slack: SlackEmulator) -> str:
    return "".join(m.text for m in replies(slack))


async def test_a_short_reply_is_one_start_and_one_stop_carrying_the_rest(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget)
    writer.write("Hello")
    await asyncio.sleep(0.01)
    writer.write(", coach.")

    stats = await writer.close()

    assert methods(slack_emulator) == ["chat.startStream", "chat.stopStream"]
    assert replies(slack_emulator)[0].text == "Hello, coach."
    assert stats.slack_calls == 2 and len(stats.message_ts) == 1 and stats.streamed_parts == 1


async def test_text_written_faster_than_the_interval_is_coalesced(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget, interval=0.2)
    for n in range(50):
        writer.write(f"{n} ")
        await asyncio.sleep(0.004)

    await writer.close()

    assert len(methods(slack_emulator)) <= 4
    assert thread_text(slack_emulator) == "".join(f"{n} " for n in range(50))


async def test_a_streamed_reply_makes_at_most_one_append_per_interval(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget, interval=0.25)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 1.0:  # a model writing for a second, a token every 10 ms
        writer.write("token ")
        await asyncio.sleep(0.01)

    stats = await writer.close()

    seconds_streaming = loop.time() - started
    assert slack_emulator.calls_to("chat.appendStream")
    assert stats.slack_calls <= 2 + seconds_streaming / 0.25 + 1
    assert thread_text(slack_emulator).count("token") == thread_text(slack_emulator).count(" ")


async def test_streams_append_no_faster_than_the_workspaces_append_budget(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    budget = SlackRateBudget({**SLACK_LIMITS, "chat.appendStream": Limit(per_minute=120, burst=1)})
    writer = writer_for(client, budget, interval=0.01)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 1.0:
        writer.write("more ")
        await asyncio.sleep(0.005)

    await writer.close()

    assert 1 <= len(slack_emulator.calls_to("chat.appendStream")) <= 3  # one now, then one each 0.5 s
    assert set(thread_text(slack_emulator).split()) == {"more"}


async def test_a_long_reply_continues_in_new_messages_between_words(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget, part_chars=100)
    text = " ".join(f"word{n}" for n in range(70))
    writer.write(text)

    stats = await writer.close()

    parts = replies(slack_emulator)
    assert len(parts) == len(stats.message_ts) >= 4
    assert "".join(p.text for p in parts) == text
    assert all(len(p.text) <= 110 and not p.text.endswith(("w", "o", "r", "d")) for p in parts)


async def test_a_lost_stream_continues_in_a_new_message_and_is_never_edited(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget)
    writer.write("First half, ")
    await until(lambda: bool(replies(slack_emulator)))
    streamed = replies(slack_emulator)
    slack_emulator.end_stream(TARGET.channel_id, streamed[0].ts)  # Slack loses it (it expired, say)
    writer.write("second half.")

    stats = await writer.close()

    assert not slack_emulator.calls_to("chat.update")
    assert [m.text for m in replies(slack_emulator)] == ["First half, ", "second half."]
    assert stats.posted_parts == 1


async def test_an_append_error_stops_the_stream_with_a_note_and_is_raised(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget)
    writer.write("Some text")
    await until(lambda: bool(replies(slack_emulator)))
    slack_emulator.fail("chat.appendStream", error="internal_error", status=200)
    writer.write(" and more")
    await until(lambda: bool(slack_emulator.calls_to("chat.appendStream")))

    with pytest.raises(SlackApiError):
        await writer.close()

    assert replies(slack_emulator)[0].text.endswith(SLACK_TROUBLE_NOTE)
    assert writer.stats.coach_told


async def test_a_stop_error_is_retried_until_the_stream_is_closed(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    slack_emulator.fail("chat.stopStream", error="internal_error", status=200)
    writer = writer_for(client, budget)
    writer.write("Almost done.")

    await writer.close()

    assert replies(slack_emulator)[0].text == "Almost done."
    assert [c.ok for c in slack_emulator.calls_to("chat.stopStream")] == [False, True]


@pytest.mark.parametrize("method", ["chat.startStream", "chat.appendStream", "chat.stopStream"])
async def test_a_429_on_any_stream_method_never_costs_a_word(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget, method: str
) -> None:
    def rate_limit() -> None:
        slack_emulator.fail(method, error="ratelimited", status=429, retry_after=0)

    writer = writer_for(client, budget)
    if method == "chat.startStream":
        rate_limit()
    writer.write("One, ")
    await until(lambda: bool(slack_emulator.calls_to("chat.startStream")))
    if method != "chat.startStream":
        rate_limit()
    writer.write("two, ")
    if method == "chat.appendStream":
        await until(lambda: bool(slack_emulator.calls_to("chat.appendStream")))
    writer.write("three.")

    await writer.close()

    assert thread_text(slack_emulator) == "One, two, three."
    assert [c.status for c in slack_emulator.calls_to(method)].count(429) == 1


async def test_every_429_pauses_that_method_for_the_whole_workspace(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    slack_emulator.fail("chat.postMessage", error="ratelimited", status=429, retry_after=1)
    conversation_in(client, budget)  # names the workspace the client's token speaks for
    posting = asyncio.create_task(client.chat_postMessage(channel="D0OTHER", text="hi"))

    await until(lambda: budget.wait_time(WORKSPACE, "chat.postMessage") > 0.5)  # paused by the 429
    assert budget.wait_time(WORKSPACE, "chat.update") == 0
    assert (await posting)["ok"], "slack_sdk's retry handler still retries"


async def test_when_start_stream_has_no_budget_the_first_text_is_posted_and_one_edit_completes_it(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client, spent_budget(client, START_STREAM))
    writer.write("A reply ")
    await until(lambda: thread_text(slack_emulator) == "A reply ")  # before the rest is written
    writer.write("shown at once, ")
    await asyncio.sleep(0.1)
    writer.write("completed by one edit.")

    stats = await writer.close()

    assert methods(slack_emulator) == ["chat.postMessage", "chat.update"]
    assert thread_text(slack_emulator) == "A reply shown at once, completed by one edit."
    assert stats.edited_parts == 1 and stats.streamed_parts == 0 and stats.posted_parts == 0


async def test_with_neither_a_stream_nor_an_edit_in_the_budget_the_reply_is_posted_whole(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client, spent_budget(client, START_STREAM, UPDATE))
    writer.write("A reply ")
    await asyncio.sleep(0.1)
    writer.write("posted once complete.")

    stats = await writer.close()

    assert methods(slack_emulator) == ["chat.postMessage"]
    assert thread_text(slack_emulator) == "A reply posted once complete."
    assert stats.posted_parts == 1 and stats.streamed_parts == 0 and stats.edited_parts == 0


async def test_a_reply_complete_before_its_first_text_went_out_is_posted_whole_without_an_edit(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client, spent_budget(client, START_STREAM))
    writer.write("All of it at once.")

    await writer.close()

    assert methods(slack_emulator) == ["chat.postMessage"]
    assert thread_text(slack_emulator) == "All of it at once."


async def test_a_start_stream_refused_for_its_rate_is_not_waited_for_but_posted_then_edited_once(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    slack_emulator.fail("chat.startStream", error="ratelimited", status=429, retry_after=30)
    writer = writer_for(client, budget)
    writer.write("Still ")
    await until(lambda: thread_text(slack_emulator) == "Still ")
    writer.write("delivered.")

    await writer.close()

    assert thread_text(slack_emulator) == "Still delivered."
    assert methods(slack_emulator) == ["chat.startStream", "chat.postMessage", "chat.update"]
    assert [c.status for c in slack_emulator.calls_to("chat.startStream")] == [429]
    assert budget.wait_time(WORKSPACE, "chat.startStream") > 20, "no stream starts meanwhile"


async def test_a_reply_cut_short_stops_its_stream_with_the_note(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget)
    writer.write("Half a thought")
    await until(lambda: bool(replies(slack_emulator)))

    await writer.cut(CUT_NOTE)

    assert replies(slack_emulator)[0].text == "Half a thought" + CUT_NOTE


async def test_a_cancelled_turn_still_closes_its_stream(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = writer_for(client, budget)

    async def turn() -> None:
        writer.write("Working on it")
        await writer.close()

    slack_emulator.delay("chat.stopStream", 0.3)
    task = asyncio.create_task(turn())
    await until(lambda: bool(slack_emulator.calls_to("chat.stopStream") or replies(slack_emulator)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.cut()

    await until(lambda: not any(m.streaming for m in replies(slack_emulator)))


async def test_without_streaming_the_reply_is_posted_then_edited(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    slack_emulator.fail("chat.startStream", error="unknown_method", status=200)
    writer = writer_for(client, budget)
    writer.write("Posted, ")
    await asyncio.sleep(0.1)
    writer.write("then edited.")

    await writer.close()

    assert thread_text(slack_emulator) == "Posted, then edited."
    assert slack_emulator.calls_to("chat.update") and not slack_emulator.calls_to("chat.appendStream")


async def test_a_429_on_an_edit_is_waited_out_and_the_last_edit_still_lands(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    slack_emulator.fail("chat.startStream", error="unknown_method", status=200)
    slack_emulator.fail("chat.update", error="ratelimited", status=429, retry_after=0)
    writer = writer_for(client, budget)
    writer.write("Posted, ")
    await until(lambda: bool(slack_emulator.calls_to("chat.postMessage")))
    writer.write("then edited ")
    writer.write("in the end.")

    await writer.close()

    assert thread_text(slack_emulator) == "Posted, then edited in the end."
    assert [c.status for c in slack_emulator.calls_to("chat.update")][:2] == [429, 200]


async def test_a_status_refused_for_its_rate_is_dropped_not_shown_late(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    slack_emulator.fail("assistant.threads.setStatus", error="ratelimited", status=429, retry_after=30)

    with pytest.raises(SlackApiError):
        await client.assistant_threads_setStatus(
            channel_id=TARGET.channel_id, thread_ts=TARGET.thread_ts, status="is thinking…"
        )

    assert [c.status for c in slack_emulator.calls_to("assistant.threads.setStatus")] == [429]
