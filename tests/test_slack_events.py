"""Which Slack events are a coach talking, and how they become a coaching message."""

import pytest

from bot.conversation.slack_events import (
    coach_message,
    is_from_a_person,
    mentions_user,
    strip_leading_mention,
)
from bot.conversation.turn_values import Surface


@pytest.mark.parametrize("subtype", [None, "file_share", "thread_broadcast", "me_message"])
def test_a_persons_messages_count(subtype: str | None) -> None:
    assert is_from_a_person({"user": "U1", "subtype": subtype, "text": "hi"})


@pytest.mark.parametrize(
    "event",
    [
        {"user": "U1", "bot_id": "B1", "text": "a bot, even with a user"},
        {"subtype": "bot_message", "text": "classic bot"},
        {"subtype": "message_changed", "message": {"user": "U1"}},
        {"subtype": "message_deleted"},
        {"user": "U1", "subtype": "channel_join", "text": "<@U1> has joined"},
        {"text": "no author"},
    ],
)
def test_bots_edits_and_notices_do_not(event: dict) -> None:
    assert not is_from_a_person(event)


def test_the_leading_bot_mention_is_stripped_and_later_mentions_stay() -> None:
    assert strip_leading_mention("<@U0BOT> how do I coach <@U2>?") == "how do I coach <@U2>?"
    assert mentions_user("hey <@U0BOT|coachbot>", "U0BOT")
    assert not mentions_user("hey there", "U0BOT")


def test_a_top_level_message_opens_its_own_thread() -> None:
    event = {"channel": "D1", "ts": "1.2", "user": "U1", "text": "hello"}
    message = coach_message(
        event,
        body={"event_id": "Ev1", "team_id": "T1"},
        context={"team_id": "T1", "received_at": 5.0},
        surface=Surface.DIRECT_MESSAGE,
        starts_session=True,
    )
    assert (message.thread_ts, message.ts, message.event_id, message.received_at) == (
        "1.2",
        "1.2",
        "Ev1",
        5.0,
    )


def test_a_reply_belongs_to_its_thread_and_channel_text_loses_the_mention() -> None:
    event = {"channel": "C1", "ts": "1.3", "thread_ts": "1.2", "user": "U1", "text": "<@U0BOT> and then?"}
    message = coach_message(
        event, body={}, context={"team_id": "T1"}, surface=Surface.CHANNEL, starts_session=True
    )
    assert (message.thread_ts, message.text, message.team_id) == ("1.2", "and then?", "T1")
