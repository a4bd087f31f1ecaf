"""A turn's Slack conversation (bot.delivery.conversation) against the Slack emulator.

Each conversation writes with its own workspace's client, uses Bolt's utilities when Bolt bound
them to its thread, and spends its own workspace's rate budget: a 429 on one workspace's token
pauses that workspace and no other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_bolt.context.say_stream.async_say_stream import AsyncSayStream
from slack_sdk.web.async_client import AsyncWebClient

from bot.assembly.app import build_slack_client
from bot.assembly.config import Settings
from bot.conversation.turn_values import Surface
from bot.delivery.conversation import SlackConversation, SlackDelivery
from bot.delivery.slack_budget import SlackRateBudget
from bot.delivery.workspace_clients import SingleWorkspace
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.waiting import until

OTHER_TEAM, OTHER_TOKEN = "T0OTHER", "xoxb-other-workspace"


@pytest.fixture
def delivery() -> SlackDelivery:
    return SlackDelivery(SlackRateBudget())


@pytest.fixture
async def clients(
    slack_emulator: SlackEmulator, delivery: SlackDelivery
) -> AsyncIterator[dict[str, AsyncWebClient]]:
    """One client per installed workspace, as Bolt's context carries them, sharing one budget."""
    slack_emulator.add_workspace(OTHER_TEAM, OTHER_TOKEN)
    made = {
        team: build_slack_client(
            Settings(slack_bot_token=token, slack_api_url=slack_emulator.base_url), budget=delivery.budget
        )
        for team, token in ((slack_emulator.team_id, slack_emulator.bot_token), (OTHER_TEAM, OTHER_TOKEN))
    }
    yield made
    for client in made.values():
        assert client.session is not None
        await client.session.close()


def conversation_in(delivery: SlackDelivery, client: AsyncWebClient, team: str) -> SlackConversation:
    return delivery.for_thread(
        client,
        channel_id="D0COACH",
        thread_ts="1700000000.000100",
        team_id=team,
        user_id="U0COACH",
        surface=Surface.DIRECT_MESSAGE,
    )


async def test_a_429_on_one_workspace_pauses_that_workspace_only(
    slack_emulator: SlackEmulator, delivery: SlackDelivery, clients: dict[str, AsyncWebClient]
) -> None:
    home = conversation_in(delivery, clients[slack_emulator.team_id], slack_emulator.team_id)
    other = conversation_in(delivery, clients[OTHER_TEAM], OTHER_TEAM)
    slack_emulator.fail("chat.postMessage", error="ratelimited", status=429, retry_after=1)

    posting = asyncio.create_task(home.post("A note"))
    await until(lambda: delivery.budget.wait_time(home.workspace, "chat.postMessage") > 0.5)

    assert home.workspace == slack_emulator.team_id and other.workspace == OTHER_TEAM
    assert delivery.budget.wait_time(OTHER_TEAM, "chat.postMessage") == 0
    assert await other.post("Unaffected")
    assert await posting, "slack_sdk's retry handler still delivers the note"


async def test_a_note_slack_refuses_is_logged_not_raised(
    slack_emulator: SlackEmulator, delivery: SlackDelivery, clients: dict[str, AsyncWebClient]
) -> None:
    conversation = conversation_in(delivery, clients[OTHER_TEAM], OTHER_TEAM)
    slack_emulator.fail("chat.postMessage", error="channel_not_found", status=200)

    assert await conversation.post("Lost") is False


def test_bolt_s_say_stream_is_used_when_bolt_bound_it_to_the_turn_s_thread(
    slack_emulator: SlackEmulator,
) -> None:
    client = AsyncWebClient(token=slack_emulator.bot_token, base_url=slack_emulator.base_url)
    bound = AsyncSayStream(client=client, channel="D0COACH", thread_ts="1700000000.000100")
    context = {"client": client, "team_id": slack_emulator.team_id, "say_stream": bound}
    delivery = SlackDelivery()

    same = delivery.from_context(
        context,
        channel_id="D0COACH",
        thread_ts="1700000000.000100",
        user_id="U0COACH",
        surface=Surface.DIRECT_MESSAGE,
    )
    elsewhere = delivery.from_context(
        context,
        channel_id="D0COACH",
        thread_ts="1700000009.000100",
        user_id="U0COACH",
        surface=Surface.DIRECT_MESSAGE,
    )

    assert same.say_stream is bound and same.client is client
    assert elsewhere.say_stream is not bound and elsewhere.say_stream.thread_ts == "1700000009.000100"


async def test_single_token_mode_answers_every_team_with_the_one_client(
    slack_emulator: SlackEmulator,
) -> None:
    client = AsyncWebClient(token=slack_emulator.bot_token, base_url=slack_emulator.base_url)
    clients = SingleWorkspace(client)

    assert await clients.client_for("T0ANY") is client
    assert await clients.client_for(None) is client
