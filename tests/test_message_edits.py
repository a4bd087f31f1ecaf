"""A coach's edits and deletions reach the stored session and so the history sent to the model.

Signed ``message_changed`` / ``message_deleted`` events over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.assembly.serve import BackgroundServer
from devkit import payloads
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

DM = "D0COACH"
CHANNEL = "C0LEADS"


def stored_user_texts(database_url: str) -> list[str]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT text FROM chat_messages WHERE message_type = 'user' ORDER BY id")
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def user_turns_sent(openai: FakeOpenAI) -> list[str]:
    return [m["content"] for m in openai.requests[-1].body["messages"] if m["role"] == "user"]


def send(slack: SlackEmulator, server: BackgroundServer, event: dict[str, Any]) -> None:
    assert slack.send_event(server.events_url, event).status == 200


@pytest.fixture
def edit_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="bot.conversation.message_edits")
    return caplog


def outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.conversation.message_edits"]


def test_an_edited_message_is_sent_to_the_model_with_its_new_text(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    first = slack_emulator.user_says(channel=DM, text="My team is five people.")
    converse(slack_emulator, coachbot, first)

    send(
        slack_emulator,
        coachbot,
        payloads.message_changed_event(
            first, new_text="My team is nine people.", edited_at=slack_emulator.ts()
        ),
    )
    assert eventually(lambda: stored_user_texts(database_url) == ["My team is nine people."])

    converse(
        slack_emulator,
        coachbot,
        slack_emulator.user_says(channel=DM, text="How do I start?", thread_ts=first["ts"]),
    )
    assert user_turns_sent(fake_openai) == ["My team is nine people.", "How do I start?"]


def test_a_deleted_message_leaves_the_history_sent_to_the_model(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    first = slack_emulator.user_says(channel=DM, text="I need help with feedback.")
    converse(slack_emulator, coachbot, first)
    regret = slack_emulator.user_says(
        channel=DM, text="Something I should not have said.", thread_ts=first["ts"]
    )
    converse(slack_emulator, coachbot, regret)

    send(slack_emulator, coachbot, payloads.message_deleted_event(regret, deleted_at=slack_emulator.ts()))
    assert eventually(lambda: stored_user_texts(database_url) == ["I need help with feedback."])

    converse(
        slack_emulator,
        coachbot,
        slack_emulator.user_says(channel=DM, text="Where were we?", thread_ts=first["ts"]),
    )
    assert user_turns_sent(fake_openai) == ["I need help with feedback.", "Where were we?"]


def test_an_edit_in_a_threaded_dm_passes_bolts_assistant_and_is_stored(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    panel_thread = slack_emulator.ts()
    said = slack_emulator.user_says(channel=DM, text="Draft one.", thread_ts=panel_thread)
    converse(slack_emulator, coachbot, said)

    send(
        slack_emulator,
        coachbot,
        payloads.message_changed_event(said, new_text="Draft two.", edited_at=slack_emulator.ts()),
    )

    assert eventually(lambda: stored_user_texts(database_url) == ["Draft two."])


def test_a_deleted_thread_parent_left_as_a_tombstone_leaves_the_history(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    first = slack_emulator.user_says(channel=DM, text="Opening words.")
    converse(slack_emulator, coachbot, first)
    follow_up = slack_emulator.user_says(channel=DM, text="Second words.", thread_ts=first["ts"])
    converse(slack_emulator, coachbot, follow_up)

    tombstone = payloads.message_changed_event(
        first, new_text="", edited_at=slack_emulator.ts(), tombstone=True
    )
    send(slack_emulator, coachbot, tombstone)

    assert eventually(lambda: stored_user_texts(database_url) == ["Second words."])


def test_someone_elses_edit_in_a_coachs_channel_session_changes_nothing(
    slack_emulator: SlackEmulator,
    coachbot: BackgroundServer,
    database_url: str,
    edit_log: pytest.LogCaptureFixture,
) -> None:
    opening = slack_emulator.mention(channel=CHANNEL, text="Coach me on delegation.")
    converse(slack_emulator, coachbot, opening)
    stored = stored_user_texts(database_url)
    # Slack only lets an author edit; a bystander's edit names the bystander, whose message it is.
    forged = dict(opening, user="U0OTHER")

    send(
        slack_emulator,
        coachbot,
        payloads.message_changed_event(forged, new_text="<@U0BOT> hijacked", edited_at=slack_emulator.ts()),
    )

    assert eventually(
        lambda: any("not a stored message of the session's coach" in m for m in outcomes(edit_log))
    )
    assert stored_user_texts(database_url) == stored


def test_the_bots_own_edits_of_its_streamed_replies_touch_nothing(
    slack_emulator: SlackEmulator,
    coachbot: BackgroundServer,
    database_url: str,
    edit_log: pytest.LogCaptureFixture,
) -> None:
    first = slack_emulator.user_says(channel=DM, text="Hello coach.")
    reply = converse(slack_emulator, coachbot, first)
    by_the_bot = {"type": "message", "channel": DM, "channel_type": "im", "user": "U0BOT", "bot_id": "B0BOT",
                  "text": reply.text, "ts": reply.ts, "thread_ts": first["ts"]}  # fmt: skip
    person = slack_emulator.user_says(channel=DM, text="Hi.", thread_ts=first["ts"], ts=slack_emulator.ts())

    send(
        slack_emulator,
        coachbot,
        payloads.message_changed_event(by_the_bot, new_text="changed", edited_at=slack_emulator.ts()),
    )
    send(
        slack_emulator,
        coachbot,
        payloads.message_changed_event(person, new_text="Hi!", edited_at=slack_emulator.ts()),
    )

    # the person's (unstored) edit is logged; the bot's own edit never reaches the database
    assert eventually(lambda: len(outcomes(edit_log)) == 1)
    assert f"Message edit {person['ts']}" in outcomes(edit_log)[0]
