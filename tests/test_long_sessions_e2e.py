"""A long session keeps its point: the opening goal reaches the model however long the thread grows.

Signed Slack events into the real app, the fake model's recorded request; SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine, insert, select

from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from storage.models import chat_messages
from tests.fixtures.app import converse

DM = "D0COACH"
GOAL = "My goal for this session: run the Q3 planning meeting without talking over people."


def add_messages(database_url: str, count: int) -> None:
    """``count`` more turns in the only session, just after its first two messages."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            first = connection.execute(select(chat_messages).order_by(chat_messages.c.id).limit(1)).one()
            connection.execute(
                insert(chat_messages),
                [
                    {
                        "session_id": first.session_id,
                        "message_type": "user" if n % 2 == 0 else "assistant",
                        "text": f"message {n}: " + "we talked about the agenda and who speaks when " * 3,
                        "timestamp": first.timestamp + timedelta(microseconds=n + 1),
                    }
                    for n in range(count)
                ],
            )
    finally:
        engine.dispose()


def test_a_session_of_400_messages_still_sends_its_opening_goal(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    opening = slack_emulator.user_says(channel=DM, text=GOAL)
    converse(slack_emulator, coachbot, opening)
    add_messages(database_url, 397)  # with the opening, its reply and the next message: 400

    converse(
        slack_emulator,
        coachbot,
        slack_emulator.user_says(channel=DM, thread_ts=opening["ts"], text="Where was I?"),
    )

    sent = fake_openai.requests[-1].body["messages"]
    assert sent[0]["role"] == "system"
    assert sent[1] == {"role": "user", "content": GOAL}
    assert sent[-1] == {"role": "user", "content": "Where was I?"}
    newest = [m["content"].split(":")[0] for m in sent if m["content"].startswith("message ")]
    assert newest[-1] == "message 396" and "message 0" not in newest  # the middle is what went
