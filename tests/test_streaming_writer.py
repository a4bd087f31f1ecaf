"""The reply writer against the Slack emulator: few calls, whole text, graceful fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.streaming import SlackReplyWriter, StreamingSupport, ThreadTarget, split_for_room
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.waiting import until

TARGET = ThreadTarget(channel_id="D0W", thread_ts="1700000000.000100", team_id="T0DEVKIT", user_id="U0COACH")


@pytest.fixture
async def client(slack_emulator: SlackEmulator) -> AsyncIterator[AsyncWebClient]:
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(
            token=slack_emulator.bot_token, base_url=slack_emulator.base_url, session=session
        )


def writer_for(
    client: AsyncWebClient, *, interval: float = 0.05, part_chars: int = 11_000
) -> SlackReplyWriter:
    return SlackReplyWriter(
        client, TARGET, streaming=StreamingSupport(), flush_interval=interval, part_chars=part_chars
    )


def methods(slack: SlackEmulator) -> list[str]:
    return [c.method for c in slack.calls if c.method.startswith("chat.")]


async def test_a_short_reply_is_one_start_and_one_stop_carrying_the_rest(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client)
    writer.write("Hello")
    await asyncio.sleep(0.01)
    writer.write(", coach.")

    stats = await writer.close()

    assert methods(slack_emulator) == ["chat.startStream", "chat.stopStream"]
    assert slack_emulator.replies_in(TARGET.channel_id, TARGET.thread_ts)[0].text == "Hello, coach."
    assert stats.slack_calls == 2 and len(stats.message_ts) == 1


async def test_text_written_faster_than_the_interval_is_coalesced(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client, interval=0.2)
    for n in range(50):
        writer.write(f"{n} ")
        await asyncio.sleep(0.004)

    await writer.close()

    assert len(methods(slack_emulator)) <= 4
    assert slack_emulator.replies_in(TARGET.channel_id, TARGET.thread_ts)[0].text == "".join(
        f"{n} " for n in range(50)
    )


async def test_a_long_reply_continues_in_new_messages(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client, part_chars=100)
    text = "word " * 70
    writer.write(text)

    stats = await writer.close()

    parts = slack_emulator.replies_in(TARGET.channel_id, TARGET.thread_ts)
    assert len(parts) == len(stats.message_ts) >= 4
    assert "".join(p.text for p in parts) == text
    assert all(len(p.text) <= 100 and not p.streaming for p in parts)


async def test_a_lost_stream_is_finished_with_chat_update(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = writer_for(client)
    writer.write("First half, ")
    await until(lambda: bool(slack_emulator.calls_to("chat.startStream")))  # open; now Slack loses it
    slack_emulator.fail("chat.appendStream", error="message_not_in_streaming_state", status=200, times=5)
    slack_emulator.fail("chat.stopStream", error="message_not_in_streaming_state", status=200, times=5)
    writer.write("second half.")

    await writer.close()

    assert slack_emulator.calls_to("chat.update")
    assert (
        slack_emulator.replies_in(TARGET.channel_id, TARGET.thread_ts)[0].text == "First half, second half."
    )


def test_splits_prefer_paragraphs_then_lines_then_words() -> None:
    assert split_for_room("aaaa\n\nbbbb cccc", 10) == ("aaaa\n\n", "bbbb cccc")
    assert split_for_room("aaaa bbbb cccc", 10) == ("aaaa bbbb ", "cccc")
    assert split_for_room("x" * 12, 10) == ("x" * 10, "xx")
    assert split_for_room("short", 10) == ("short", "")
