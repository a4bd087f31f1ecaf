"""The emulator's streamed messages go through Slack's states, and refuse what Slack refuses."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devkit.slack_emulator import EmulatorRules, SlackEmulator
from tests.fixtures.clock import FakeClock
from tests.fixtures.fakes import assert_no_stream_left_open

TOKEN = "xoxb-devkit"
DM = "D0COACH"
CHANNEL = "C0TEAM"
THREAD = "1700000000.000100"


@pytest.fixture
def emulator(clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[SlackEmulator]:
    """An emulator on the test's clock, so a stream goes quiet only when the test says so."""
    with SlackEmulator(clock=clock) as started:
        yield started
        assert_no_stream_left_open(started, request)


def web(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=TOKEN, retry_handlers=[])


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as refused:
        call(*args, **kwargs)
    return str(refused.value.response["error"])


def test_a_stopped_stream_takes_no_more_appends_or_stops(emulator: SlackEmulator) -> None:
    client = web(emulator)
    ts = client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="Hello")["ts"]
    client.chat_stopStream(channel=DM, ts=ts)

    assert error_of(client.chat_appendStream, channel=DM, ts=ts, markdown_text="more") == (
        "message_not_in_streaming_state"
    )
    assert error_of(client.chat_stopStream, channel=DM, ts=ts) == "message_not_in_streaming_state"


def test_a_posted_message_is_not_a_stream(emulator: SlackEmulator) -> None:
    client = web(emulator)
    ts = client.chat_postMessage(channel=DM, thread_ts=THREAD, text="posted whole")["ts"]

    assert error_of(client.chat_appendStream, channel=DM, ts=ts, markdown_text="x") == (
        "message_not_in_streaming_state"
    )


def test_a_streaming_message_can_be_neither_edited_nor_deleted_until_stopped(
    emulator: SlackEmulator,
) -> None:
    client = web(emulator)
    ts = client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="half a")["ts"]

    assert error_of(client.chat_update, channel=DM, ts=ts, text="replaced") == "streaming_state_conflict"
    assert error_of(client.chat_delete, channel=DM, ts=ts) == "cant_delete_message"

    client.chat_stopStream(channel=DM, ts=ts, markdown_text=" thought")
    assert client.chat_update(channel=DM, ts=ts, text="edited after")["ok"]
    assert client.chat_delete(channel=DM, ts=ts)["ok"]


def test_a_quiet_stream_expires_and_can_then_be_edited_but_not_appended_to(
    emulator: SlackEmulator, clock: FakeClock
) -> None:
    client = web(emulator)
    ts = client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="thinking")["ts"]
    clock.advance(299)
    client.chat_appendStream(channel=DM, ts=ts, markdown_text=" still")  # an append keeps it alive
    clock.advance(301)

    assert error_of(client.chat_appendStream, channel=DM, ts=ts, markdown_text="late") == (
        "message_not_in_streaming_state"
    )
    [message] = emulator.messages(DM)
    assert (message.streaming, message.expired, message.stopped) == (False, True, False)
    assert emulator.open_streams() == []  # Slack ended it: nothing the app could still stop
    assert client.chat_update(channel=DM, ts=ts, text="repaired")["ok"]


def test_an_injected_stream_loss_ends_the_stream_as_slack_would_have(emulator: SlackEmulator) -> None:
    client = web(emulator)
    ts = client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="half")["ts"]
    emulator.fail("chat.appendStream", error="message_not_in_streaming_state", status=200)

    assert error_of(client.chat_appendStream, channel=DM, ts=ts, markdown_text="x") == (
        "message_not_in_streaming_state"
    )
    assert error_of(client.chat_stopStream, channel=DM, ts=ts) == "message_not_in_streaming_state"
    assert client.chat_update(channel=DM, ts=ts, text="half, finished by an edit")["ok"]


def test_end_stream_loses_a_stream_on_cue(emulator: SlackEmulator) -> None:
    client = web(emulator)
    ts = client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="half")["ts"]

    emulator.end_stream(DM, ts)

    assert error_of(client.chat_stopStream, channel=DM, ts=ts) == "message_not_in_streaming_state"
    assert emulator.open_streams() == []


def test_the_idle_time_before_expiry_is_configurable(clock: FakeClock) -> None:
    with SlackEmulator(clock=clock, rules=EmulatorRules(stream_idle_seconds=2)) as emulator:
        client = web(emulator)
        ts = client.chat_startStream(channel=DM, thread_ts=THREAD)["ts"]
        clock.advance(2.5)

        assert error_of(client.chat_stopStream, channel=DM, ts=ts) == "message_not_in_streaming_state"


def test_streaming_in_a_channel_needs_the_recipient_team_and_user(emulator: SlackEmulator) -> None:
    client = web(emulator)

    assert error_of(client.chat_startStream, channel=CHANNEL, thread_ts=THREAD) == "invalid_arguments"
    assert (
        error_of(client.chat_startStream, channel=CHANNEL, thread_ts=THREAD, recipient_team_id="T0DEVKIT")
        == "invalid_arguments"
    )
    ts = client.chat_startStream(
        channel=CHANNEL, thread_ts=THREAD, recipient_team_id="T0DEVKIT", recipient_user_id="U0COACH"
    )["ts"]
    client.chat_stopStream(channel=CHANNEL, ts=ts)
    dm = client.chat_startStream(channel=DM, thread_ts=THREAD)["ts"]  # a DM needs neither
    client.chat_stopStream(channel=DM, ts=dm)


def test_a_stream_must_be_a_thread_reply(emulator: SlackEmulator) -> None:
    assert error_of(web(emulator).api_call, "chat.startStream", json={"channel": DM}) == "invalid_arguments"


def test_text_and_markdown_text_are_not_accepted_together(emulator: SlackEmulator) -> None:
    client = web(emulator)

    assert (
        error_of(client.chat_postMessage, channel=DM, text="a", markdown_text="**a**") == "invalid_arguments"
    )
    ts = client.chat_postMessage(channel=DM, markdown_text="**bold**")["ts"]
    assert error_of(client.chat_update, channel=DM, ts=ts, text="a", markdown_text="b") == "invalid_arguments"
    assert emulator.messages(DM)[0].text == "**bold**"


def test_markdown_text_of_a_message_is_at_most_12000_characters(emulator: SlackEmulator) -> None:
    client = web(emulator)

    assert error_of(client.chat_postMessage, channel=DM, markdown_text="m" * 12_001) == "msg_too_long"
    assert client.chat_postMessage(channel=DM, markdown_text="m" * 12_000)["ok"]


def test_the_bot_edits_and_deletes_only_its_own_messages(emulator: SlackEmulator) -> None:
    client = web(emulator)
    coach = emulator.user_says(channel=DM, text="my words")["ts"]

    assert error_of(client.chat_update, channel=DM, ts=coach, text="rewritten") == "cant_update_message"
    assert error_of(client.chat_delete, channel=DM, ts=coach) == "cant_delete_message"


def test_a_message_has_at_most_50_blocks(emulator: SlackEmulator) -> None:
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}

    too_many = error_of(web(emulator).chat_postMessage, channel=DM, text="x", blocks=[block] * 51)
    assert too_many == "invalid_blocks"
    assert web(emulator).chat_postMessage(channel=DM, text="x", blocks=[block] * 50)["ok"]


def test_update_and_delete_need_a_channel(emulator: SlackEmulator) -> None:
    client = web(emulator)
    ts = client.chat_postMessage(channel=DM, text="here")["ts"]

    assert error_of(client.chat_update, channel="", ts=ts, text="x") == "channel_not_found"
    assert error_of(client.chat_delete, channel="", ts=ts) == "channel_not_found"


def test_the_devkit_endpoint_lists_open_streams_for_other_processes(emulator: SlackEmulator) -> None:
    client = web(emulator)
    stays_open = client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="dangling")["ts"]
    closed = client.chat_startStream(channel=DM, thread_ts=THREAD)["ts"]
    client.chat_stopStream(channel=DM, ts=closed)

    with urllib.request.urlopen(f"{emulator.origin}/_devkit/streams") as answer:
        listed = json.load(answer)

    assert [(s["ts"], s["text"], s["streaming"]) for s in listed] == [(stays_open, "dangling", True)]
    assert [m.ts for m in emulator.open_streams()] == [stays_open]
    client.chat_stopStream(channel=DM, ts=stays_open)
    assert emulator.open_streams() == []


def test_the_fixture_check_names_a_stream_left_open(
    emulator: SlackEmulator, request: pytest.FixtureRequest
) -> None:
    web(emulator).chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="forgotten")

    with pytest.raises(AssertionError, match=r"streams left open.*forgotten"):
        assert_no_stream_left_open(emulator, request)
    emulator.allow_open_streams()


@pytest.mark.leaves_streams_open
def test_a_test_marked_leaves_streams_open_may_leave_one(emulator: SlackEmulator) -> None:
    web(emulator).chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="on purpose")

    assert len(emulator.open_streams()) == 1


def test_streaming_rules_can_be_turned_off(clock: FakeClock) -> None:
    rules = EmulatorRules(streaming_states=False, streams_must_close=False)
    with SlackEmulator(clock=clock, rules=rules) as emulator:
        client = web(emulator)
        ts = client.chat_startStream(channel=CHANNEL, thread_ts=THREAD, markdown_text="no recipients")["ts"]

        assert client.chat_update(channel=CHANNEL, ts=ts, text="edited mid-stream")["ok"]
        assert emulator.open_streams_allowed


async def test_the_async_client_sees_the_same_stream_states(emulator: SlackEmulator) -> None:
    client = AsyncWebClient(base_url=emulator.base_url, token=TOKEN)
    ts = (await client.chat_startStream(channel=DM, thread_ts=THREAD, markdown_text="a"))["ts"]

    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=DM, ts=ts, text="b")
    await client.chat_stopStream(channel=DM, ts=ts)

    assert refused.value.response["error"] == "streaming_state_conflict"
    assert emulator.open_streams() == []
