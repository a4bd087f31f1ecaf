"""``/coach help`` and ``/coach new`` end to end: signed slash commands over HTTP, answered
ephemerally through the emulator's response_url; ``new`` opens a thread the coach replies in.
"""

from __future__ import annotations

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.commands.new_session import OPENER_TEXT
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

DM = "D0COACH"


def answer(slack: SlackEmulator, server: BackgroundServer, text: str) -> dict:
    before = len(slack.response_url_posts())
    assert (
        slack.send_command(server.events_url, "/coach", text, user_id="U0COACH", channel_id=DM).status == 200
    )
    posts = eventually(lambda: slack.response_url_posts()[before:])
    assert len(posts) == 1
    return posts[0].body


def test_help_says_what_the_bot_does_its_limits_and_where_the_data_lives(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings
) -> None:
    body = answer(slack_emulator, coachbot, "help")

    assert body["response_type"] == "ephemeral"
    text = body["text"]
    assert "AI coach" in text and "not a therapist, doctor, lawyer or HR" in text
    assert "emergency number" in text  # the crisis resources
    assert "this deployment's database" in text and "`/coach export`" in text and "`/coach delete`" in text
    for name in ("help", "new", "wrap", "memory", "forget", "checkins"):
        assert f"• `/coach {name}`:" in text
    assert answer(slack_emulator, coachbot, "dance")["text"] == text  # anything unknown gets the help
    assert answer(slack_emulator, coachbot, "")["text"] == text


def test_new_starts_a_fresh_thread_in_the_dm_that_the_coach_replies_in(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    body = answer(slack_emulator, coachbot, "new")

    (opener,) = [c for c in slack_emulator.calls_to("chat.postMessage") if c.args.get("text") == OPENER_TEXT]
    assert "thread_ts" not in opener.args  # a new top-level message: its thread is the session
    ts = slack_emulator.calls_to("chat.getPermalink")[0].args["message_ts"]
    assert body["response_type"] == "ephemeral" and f"/archives/{DM}/p{ts.replace('.', '')}" in body["text"]

    reply = converse(
        slack_emulator,
        coachbot,
        slack_emulator.user_says(channel=DM, thread_ts=ts, text="I want to delegate more."),
    )
    assert reply.thread_ts == ts and reply.text
