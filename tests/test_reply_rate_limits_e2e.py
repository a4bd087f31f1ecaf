"""Replies under Slack's rate limits, and turns that end early: no reply lost, no stream left open.

The emulator enforces Slack's tiers, here tightened for one method per test so that a handful of
coaches reach the limit. The first tests run the real app over HTTP; the last ones run the
coaching service itself with a model that fails or stalls in ways the fake OpenAI cannot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.assembly.app import build_slack_client
from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.coaching import CoachingService
from bot.conversation.llm import StreamStats, model_fit
from bot.conversation.turn_values import INTERRUPTED_NOTE, UNEXPECTED_TEXT, CoachMessage, Surface
from bot.delivery.conversation import SlackConversation
from devkit.fake_openai import FakeOpenAI
from devkit.slack.rate_limits import Limit
from devkit.slack_emulator import SlackEmulator
from storage.conversations import ConversationStore
from tests.fixtures.waiting import eventually, until

TRIVIAL = {"chat.startStream": Limit(per_minute=1, burst=1)}
FEW_APPENDS = {"chat.appendStream": Limit(per_minute=6, burst=1)}


@pytest.mark.slack_rules(method_limits=TRIVIAL)
def test_when_start_stream_is_throttled_the_coach_sees_the_first_text_at_once_and_one_edit_completes_it(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.tokens_per_second = 20  # each reply streams for a second or so
    reply = "A reply that takes the model a while to write, word after word after word."
    events = [slack_emulator.user_says(channel=f"D0COACH{n}", text=f"Coach {n} here") for n in range(3)]

    texts = []
    for event in events:  # one after another, so each sees what Slack answered the one before
        fake_openai.queue_reply(reply)
        slack_emulator.send_event(coachbot.events_url, event)
        slack_emulator.wait_for_replies(event["channel"], event["ts"], count=1)
        texts.append(eventually(lambda e=event: complete_text(slack_emulator, e, reply), timeout=10))

    assert [c.status for c in slack_emulator.calls_to("chat.startStream")] == [200, 429], (
        "the 429 paused chat.startStream for the workspace: the third reply did not try"
    )
    posts = slack_emulator.calls_to("chat.postMessage")
    assert [c.args["channel"] for c in posts] == ["D0COACH1", "D0COACH2"]
    finished = sorted(r.finished_at for r in fake_openai.requests if r.finished_at is not None)
    assert all(post.at < end for post, end in zip(posts, finished[1:], strict=True)), (
        "the first text reached Slack before the model had finished"
    )
    updates = slack_emulator.calls_to("chat.update")
    assert [(c.args["channel"], c.ok) for c in updates] == [("D0COACH1", True), ("D0COACH2", True)], (
        "exactly one edit per reply completes it"
    )
    assert texts == [reply] * 3
    assert not slack_emulator.open_streams()


def complete_text(slack: SlackEmulator, event: dict[str, Any], reply: str) -> str | None:
    """The thread's one reply once it reads ``reply`` in full."""
    [message] = slack.replies_in(event["channel"], event["ts"])
    return message.text if message.text == reply and not message.streaming else None


@pytest.mark.slack_rules(method_limits=FEW_APPENDS)
def test_an_append_refused_for_its_rate_rides_on_the_next_call(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.tokens_per_second = 40
    reply = "Plenty of words arriving faster than this workspace may append them. " * 3
    fake_openai.queue_reply(reply)
    event = slack_emulator.user_says(channel="D0COACH", text="Go")

    slack_emulator.send_event(coachbot.events_url, event)
    message = slack_emulator.wait_for_replies("D0COACH", event["ts"], count=1, timeout=20)[0]

    assert message.text == reply
    appends = slack_emulator.calls_to("chat.appendStream")
    assert [c.status for c in appends].count(429) == 1, "not retried, and no append while paused"
    assert len(slack_emulator.calls_to("chat.stopStream")) == 1


# ------------------------------------------------------------------ turns that end early


class StubModel:
    """Writes ``pieces``, then raises ``error`` (or waits forever when ``error`` is None)."""

    def __init__(self, pieces: list[str], error: BaseException | None) -> None:
        self._pieces = pieces
        self._error = error
        self.fit = model_fit(Settings())

    async def stream_reply(self, messages: list[dict[str, Any]], stats: StreamStats) -> AsyncIterator[str]:
        for piece in self._pieces:
            yield piece
            await asyncio.sleep(0.02)
        if self._error is None:
            await asyncio.Event().wait()
        raise self._error

    async def close(self) -> None:
        return None


@pytest.fixture
async def slack_client(slack_emulator: SlackEmulator) -> AsyncIterator[AsyncWebClient]:
    client = build_slack_client(
        Settings(slack_bot_token=slack_emulator.bot_token, slack_api_url=slack_emulator.base_url)
    )
    yield client
    assert client.session is not None
    await client.session.close()


def service(store: ConversationStore, model: StubModel) -> CoachingService:
    settings = Settings(stream_flush_interval_ms=20)
    return CoachingService(settings=settings, store=store, model=model)  # type: ignore[arg-type]


def conversation_of(
    coaching: CoachingService, message: CoachMessage, client: AsyncWebClient
) -> SlackConversation:
    """The turn's Slack conversation, as a listener builds it from Bolt's context."""
    return coaching.delivery.for_message({"client": client, "team_id": message.team_id}, message)


def coach_message(slack: SlackEmulator) -> CoachMessage:
    event = slack.user_says(channel="D0COACH", text="Help me think")
    return CoachMessage(
        team_id=slack.team_id,
        channel_id="D0COACH",
        thread_ts=event["ts"],
        ts=event["ts"],
        user_id="U0COACH",
        text="Help me think",
        surface=Surface.DIRECT_MESSAGE,
        starts_session=True,
    )


async def test_an_unexpected_error_mid_reply_stops_the_stream_and_tells_the_coach(
    slack_emulator: SlackEmulator, store: ConversationStore, slack_client: AsyncWebClient
) -> None:
    coaching = service(store, StubModel(["First ", "thoughts"], RuntimeError("a bug")))
    message = coach_message(slack_emulator)

    await coaching.handle_message(message, conversation_of(coaching, message, slack_client))

    streamed, apology = slack_emulator.replies_in("D0COACH", message.thread_ts)
    assert streamed.text == "First thoughts" + INTERRUPTED_NOTE and not streamed.streaming
    assert apology.text == UNEXPECTED_TEXT


async def test_a_cancelled_turn_stops_its_stream_with_the_note(
    slack_emulator: SlackEmulator, store: ConversationStore, slack_client: AsyncWebClient
) -> None:
    coaching = service(store, StubModel(["Thinking ", "aloud"], None))
    message = coach_message(slack_emulator)

    turn = asyncio.create_task(
        coaching.handle_message(message, conversation_of(coaching, message, slack_client))
    )
    await until(lambda: bool(slack_emulator.replies_in("D0COACH", message.thread_ts)))
    await asyncio.sleep(0.1)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn

    [streamed] = slack_emulator.replies_in("D0COACH", message.thread_ts)
    assert streamed.text == "Thinking aloud" + INTERRUPTED_NOTE and not streamed.streaming
