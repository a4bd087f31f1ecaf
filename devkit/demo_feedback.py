"""The demo's feedback step: 👍 on one reply, 👎 on another with what would have helped, and what
was stored (the rows of ``reply_feedback``), all through the emulator pressing what Slack shows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text

from bot.assembly.serve import BackgroundServer
from bot.feedback.blocks import FEEDBACK_ACTION, NOTE_BLOCK, NOTE_INPUT, NOTE_SEND_ACTION
from devkit.slack_emulator import Message, SlackEmulator
from storage.engine import sync_url

NOTE = "A concrete opening line for the 1:1 would have helped."


def run_feedback(
    slack: SlackEmulator,
    server: BackgroundServer,
    database_url: str,
    threads: tuple[tuple[str, str], tuple[str, str]],
    say: Callable[[str, str], None],
) -> None:
    """``threads``: (channel, thread_ts) of the reply rated 👍, then of the one rated 👎."""
    (up_channel, up_thread), (down_channel, down_thread) = threads
    liked = _last_reply(slack, up_channel, up_thread)
    slack.press_button(server.events_url, action_id=FEEDBACK_ACTION, message=liked, choice="positive")
    say("coach", "[presses 👍 under the reply in #leads]")
    _wait(lambda: len(_rows(database_url)) == 1)

    disliked = _last_reply(slack, down_channel, down_thread)
    asked = len(slack.calls_to("chat.postEphemeral"))
    slack.press_button(server.events_url, action_id=FEEDBACK_ACTION, message=disliked, choice="negative")
    say("coach", "[presses 👎 under this morning's reply]")
    _wait(lambda: len(slack.calls_to("chat.postEphemeral")) > asked)
    question = slack.calls_to("chat.postEphemeral")[-1].args
    say("coachbot", f"(only to the coach) {question['text']}")
    blocks = question["blocks"]
    slack.press_button(
        server.events_url,
        action_id=NOTE_SEND_ACTION,
        ephemeral_blocks=json.loads(blocks) if isinstance(blocks, str) else blocks,
        channel=down_channel,
        thread_ts=down_thread,
        typed={NOTE_BLOCK: {NOTE_INPUT: NOTE}},
    )
    say("coach", f"[types “{NOTE}” and presses Send]")
    _wait(lambda: any(row["note"] for row in _rows(database_url)))
    print("\n  Stored in reply_feedback (one row per coach per reply):")
    for row in _rows(database_url):
        print(
            f"    {row['channel_id']} {row['message_ts']}: {row['rating']:<8} model={row['model']} "
            f"prompt={row['prompt_version']} note={row['note']!r}"
        )


def _last_reply(slack: SlackEmulator, channel: str, thread_ts: str) -> Message:
    return [m for m in slack.replies_in(channel, thread_ts) if m.blocks][-1]


def _rows(database_url: str) -> list[dict[str, Any]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            result = conn.execute(
                text(
                    "SELECT channel_id, message_ts, rating, model, prompt_version, note "
                    "FROM reply_feedback ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in result]
    finally:
        engine.dispose()


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the demo's feedback step timed out")
        time.sleep(0.05)
