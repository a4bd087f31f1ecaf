"""Feedback on every reply, end to end: signed Slack requests into the real app over HTTP, the
emulator pressing the feedback buttons a reply shows, SQLite and PostgreSQL.

A press is stored once per coach per reply, and a change of mind updates that one row; a
thumbs-down asks, in an ephemeral message, what would have helped, and the answer is stored with
it and never logged; someone else's press is refused, politely and to them alone.
"""

from __future__ import annotations

import io
import json
from typing import Any

from sqlalchemy import Engine, create_engine, text, update

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.prompt import PROMPT_VERSION
from bot.feedback.blocks import FEEDBACK_ACTION, NOTE_BLOCK, NOTE_INPUT, NOTE_SEND_ACTION
from bot.feedback.service import NOT_YOURS_TEXT, NOTE_NOT_YOURS_TEXT, NOTE_SAVED_TEXT, OLDER_REPLY_TEXT
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Message, SlackEmulator
from storage.engine import sync_url
from storage.models import chat_messages
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

DM = "D0COACH"
NOTE = "A concrete first step for tomorrow's 1:1 would have helped"


def rows(database_url: str) -> list[Any]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT team_id, user_id, channel_id, message_ts, session_id, rating, note, model, "
                        "prompt_version FROM reply_feedback"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def a_reply(
    slack: SlackEmulator, server: BackgroundServer, words: str = "Help me plan a hard 1:1."
) -> Message:
    return converse(slack, server, slack.user_says(channel=DM, text=words))


def ephemeral_texts(slack: SlackEmulator) -> list[str]:
    return [str(p.body.get("text")) for p in slack.response_url_posts() if isinstance(p.body, dict)]


def note_question(slack: SlackEmulator) -> dict[str, Any]:
    calls = slack.calls_to("chat.postEphemeral")
    assert calls, "no ephemeral question was posted"
    args = calls[-1].args
    blocks = args["blocks"]
    return {**args, "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks}


def test_a_press_is_stored_once_per_coach_per_reply_and_a_change_of_mind_updates_it(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str, settings: Settings
) -> None:
    reply = a_reply(slack_emulator, coachbot)
    assert any(b["type"] == "context_actions" for b in reply.blocks or [])

    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, choice="positive"
    )
    stored = eventually(lambda: rows(database_url))
    (row,) = stored
    assert (row.team_id, row.user_id, row.channel_id, row.message_ts) == (
        slack_emulator.team_id,
        "U0COACH",
        DM,
        reply.ts,
    )
    assert (row.rating, row.model, row.prompt_version, row.note) == (
        "positive",
        settings.openai_model,
        PROMPT_VERSION,
        None,
    )

    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, choice="negative"
    )
    assert eventually(lambda: [r.rating for r in rows(database_url)] == ["negative"])
    assert eventually(lambda: slack_emulator.calls_to("chat.postEphemeral"))  # what would have helped?


def test_a_thumbs_down_asks_what_would_have_helped_and_stores_the_note_unlogged(
    log_output: io.StringIO,
    slack_emulator: SlackEmulator,
    coachbot: BackgroundServer,
    database_url: str,
) -> None:
    reply = a_reply(slack_emulator, coachbot)

    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, choice="negative"
    )

    assert eventually(lambda: slack_emulator.calls_to("chat.postEphemeral"))
    question = note_question(slack_emulator)
    assert (question["channel"], question["user"], question["thread_ts"]) == (DM, "U0COACH", reply.thread_ts)
    assert any(b.get("block_id") == NOTE_BLOCK and b["type"] == "input" for b in question["blocks"])

    slack_emulator.press_button(
        coachbot.events_url,
        action_id=NOTE_SEND_ACTION,
        ephemeral_blocks=question["blocks"],
        channel=DM,
        thread_ts=reply.thread_ts,
        typed={NOTE_BLOCK: {NOTE_INPUT: NOTE}},
    )
    assert eventually(lambda: [r.note for r in rows(database_url)] == [NOTE])
    assert eventually(lambda: NOTE_SAVED_TEXT in ephemeral_texts(slack_emulator))
    assert "1:1 would have helped" not in log_output.getvalue()
    assert "Reply rated" in log_output.getvalue()


def test_another_users_press_and_note_are_refused_politely(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    reply = a_reply(slack_emulator, coachbot)

    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, user="U0OTHER", choice="negative"
    )
    refused = eventually(
        lambda: [p for p in slack_emulator.response_url_posts() if p.body.get("text") == NOT_YOURS_TEXT]
    )
    assert refused[0].body["response_type"] == "ephemeral"
    assert rows(database_url) == [] and not slack_emulator.calls_to("chat.postEphemeral")

    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, choice="negative"
    )
    assert eventually(lambda: slack_emulator.calls_to("chat.postEphemeral"))
    slack_emulator.press_button(
        coachbot.events_url,
        action_id=NOTE_SEND_ACTION,
        ephemeral_blocks=note_question(slack_emulator)["blocks"],
        channel=DM,
        user="U0OTHER",
        typed={NOTE_BLOCK: {NOTE_INPUT: "not mine to say"}},
    )
    assert eventually(lambda: NOTE_NOT_YOURS_TEXT in ephemeral_texts(slack_emulator))
    assert [r.note for r in rows(database_url)] == [None]


def test_the_coachs_reply_from_before_revision_0010_is_declined_kindly_and_others_still_refused(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str, db: Engine
) -> None:
    reply = a_reply(slack_emulator, coachbot)
    with db.begin() as connection:  # as a reply stored before 0010 is: no reply_ts to match a press to
        connection.execute(update(chat_messages).values(reply_ts=None, model=None, prompt_version=None))

    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, choice="positive"
    )
    assert eventually(lambda: OLDER_REPLY_TEXT in ephemeral_texts(slack_emulator))
    slack_emulator.press_button(
        coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply, user="U0OTHER", choice="negative"
    )
    assert eventually(lambda: NOT_YOURS_TEXT in ephemeral_texts(slack_emulator))

    posts = [p.body for p in slack_emulator.response_url_posts()]
    assert [p["text"] for p in posts] == [OLDER_REPLY_TEXT, NOT_YOURS_TEXT]
    assert all(p["response_type"] == "ephemeral" for p in posts)
    assert rows(database_url) == [] and not slack_emulator.calls_to("chat.postEphemeral")


def test_a_reply_posted_then_edited_carries_the_buttons_and_its_press_counts(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    slack_emulator.fail("chat.startStream", error="unknown_method", status=200, times=100)
    fake_openai.queue_reply("A reply without streaming, still complete.")
    event = slack_emulator.user_says(channel=DM, text="Hi")
    converse(slack_emulator, coachbot, event)

    reply = eventually(
        lambda: next((m for m in slack_emulator.replies_in(DM, event["ts"]) if m.blocks), None)
    )
    assert [b["type"] for b in reply.blocks] == ["markdown", "actions", "context_actions"]
    slack_emulator.press_button(coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply)
    assert eventually(lambda: [r.message_ts for r in rows(database_url)] == [reply.ts])


def test_a_crisis_reply_and_a_failures_note_carry_no_feedback_buttons(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.moderations.flag_words("quillfeather", "self-harm")
    cared = a_reply(slack_emulator, coachbot, "I keep thinking about quillfeather.")
    assert [b["type"] for b in cared.blocks or []] == ["actions"]  # Wrap up only: care is not rated

    fake_openai.fail_next(status=500, times=3)
    failed = a_reply(slack_emulator, coachbot, "Are you there?")
    assert not any(b["type"] == "context_actions" for b in failed.blocks or [])
