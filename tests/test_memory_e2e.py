"""Memory across sessions, end to end: signed Slack requests into the real app over HTTP, the fake
OpenAI answering the wrap-up's structured call, SQLite and PostgreSQL.

A session wrapped up (by the words, the Wrap up button or ``/coach wrap``) is summarised in its
thread; the next session's first model request carries the coach's goals and commitments; the
buttons answer only the coach; memory off and forget keep and send nothing.
"""

from __future__ import annotations

import json
from typing import Any

from bot.assembly.serve import BackgroundServer
from bot.memory.blocks import (
    COMMITMENT_DONE_ACTION,
    DELETE_ACTION,
    EDIT_ACTION,
    EDIT_BLOCK,
    EDIT_INPUT,
    WRAP_UP_ACTION,
)
from devkit.fake_openai import FakeOpenAI, RecordedRequest
from devkit.slack_emulator import Message, SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.databases import query
from tests.fixtures.waiting import eventually

DM = "D0COACH"
WRAP_UP = {
    "summary": "You want to delegate the weekly report so you can focus on hiring.",
    "goals": ["Delegate the weekly report"],
    "commitments": [
        {"text": "I'll hand the report to Sam by Friday", "due_date": "2026-12-04", "status": "open"}
    ],
    "remember": ["Prefers short answers"],
}


def structured_requests(fake: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in fake.requests if "response_format" in r.body]


def coaching_requests(fake: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in fake.requests if "response_format" not in r.body]


def memory_message(request: RecordedRequest) -> str | None:
    """The second system message, right after the system prompt: the coach's memory."""
    messages = request.body["messages"]
    if len(messages) > 1 and messages[1]["role"] == "system":
        return str(messages[1]["content"])
    return None


def start_session(
    slack: SlackEmulator, server: BackgroundServer, text: str = "My goal is to delegate more."
) -> Message:
    event = slack.user_says(channel=DM, text=text)
    return converse(slack, server, event)


def wait_for_summary(slack: SlackEmulator, thread_ts: str, before: int) -> Message:
    replies = slack.wait_for_replies(DM, thread_ts, count=before + 1, timeout=15)
    return replies[-1]


def ephemeral_posts(slack: SlackEmulator) -> list[dict[str, Any]]:
    return [p.body for p in slack.response_url_posts() if isinstance(p.body, dict)]


def wrap_by_words(slack: SlackEmulator, server: BackgroundServer, reply: Message, words: str) -> Message:
    before = len(slack.replies_in(DM, reply.thread_ts or ""))
    event = slack.user_says(channel=DM, text=words, thread_ts=reply.thread_ts)
    assert slack.send_event(server.events_url, event).status == 200
    return wait_for_summary(slack, reply.thread_ts or "", before)


def test_a_goal_and_a_dated_commitment_wrapped_up_reach_the_next_sessions_first_request(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    first = start_session(slack_emulator, coachbot, "My goal is to delegate the weekly report.")
    fake_openai.queue_json(WRAP_UP)

    summary = wrap_by_words(slack_emulator, coachbot, first, "That's all for now, thanks!")

    assert summary.text.startswith("Session wrapped up.")
    assert "I'll hand the report to Sam by Friday" in json.dumps(summary.blocks)
    extraction = structured_requests(fake_openai)[-1]
    assert extraction.body["response_format"]["json_schema"]["strict"] is True
    posted = [c for c in slack_emulator.calls_to("chat.postMessage") if "Session wrapped up" in str(c.args)][
        -1
    ]
    assert extraction.finished_at is not None and posted.at - extraction.finished_at <= 5.0
    assert eventually(
        lambda: query(database_url, "SELECT is_active FROM coaching_sessions")[0][0] in (False, 0)
    )

    start_session(slack_emulator, coachbot, "Hi again.")

    memory = memory_message(coaching_requests(fake_openai)[-1])
    assert memory is not None
    assert "Delegate the weekly report" in memory
    assert "I'll hand the report to Sam by Friday (due Friday 2026-12-04)" in memory
    assert "You want to delegate the weekly report" in memory


def test_the_wrap_up_button_answers_only_the_sessions_coach(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    reply = start_session(slack_emulator, coachbot)
    fake_openai.queue_json(WRAP_UP)

    slack_emulator.press_button(coachbot.events_url, action_id=WRAP_UP_ACTION, message=reply, user="U0OTHER")
    refused = eventually(
        lambda: [p for p in ephemeral_posts(slack_emulator) if "Only the coach" in p["text"]]
    )
    assert refused and refused[0]["response_type"] == "ephemeral"
    assert query(database_url, "SELECT is_active FROM coaching_sessions")[0][0] in (True, 1)

    before = len(slack_emulator.replies_in(DM, reply.thread_ts or ""))
    slack_emulator.press_button(coachbot.events_url, action_id=WRAP_UP_ACTION, message=reply)
    summary = wait_for_summary(slack_emulator, reply.thread_ts or "", before)
    assert summary.text.startswith("Session wrapped up.")

    (commitment_id,) = query(database_url, "SELECT id FROM coach_commitments")[0]
    slack_emulator.press_button(
        coachbot.events_url, action_id=COMMITMENT_DONE_ACTION, message=summary, user="U0OTHER"
    )
    assert eventually(
        lambda: [p for p in ephemeral_posts(slack_emulator) if "Only the coach who made" in p["text"]]
    )
    assert query(database_url, "SELECT status FROM coach_commitments") == [("open",)]

    slack_emulator.press_button(coachbot.events_url, action_id=COMMITMENT_DONE_ACTION, message=summary)
    assert eventually(lambda: query(database_url, "SELECT status FROM coach_commitments") == [("done",)])
    updated = eventually(lambda: slack_emulator.calls_to("chat.update"))
    assert f"commitment_{commitment_id}" in json.dumps(updated[-1].args) and "done" in json.dumps(
        updated[-1].args
    )


def test_memory_off_keeps_nothing_and_tells_the_model_nothing(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    slack_emulator.send_command(coachbot.events_url, "/coach", "memory off", user_id="U0COACH", channel_id=DM)
    assert eventually(lambda: [p for p in ephemeral_posts(slack_emulator) if "Memory is off" in p["text"]])
    reply = start_session(slack_emulator, coachbot)

    summary = wrap_by_words(slack_emulator, coachbot, reply, "let's wrap up")

    assert "Memory is off" in summary.text
    assert structured_requests(fake_openai) == []
    assert query(database_url, "SELECT count(*) FROM coach_goals") == [(0,)]
    start_session(slack_emulator, coachbot, "Hi again.")
    assert memory_message(coaching_requests(fake_openai)[-1]) is None


def test_forget_clears_what_the_next_session_would_be_told(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    reply = start_session(slack_emulator, coachbot)
    fake_openai.queue_json(WRAP_UP)
    slack_emulator.send_command(coachbot.events_url, "/coach", "wrap", user_id="U0COACH", channel_id=DM)
    wait_for_summary(slack_emulator, reply.thread_ts or "", 1)

    slack_emulator.send_command(coachbot.events_url, "/coach", "forget", user_id="U0COACH", channel_id=DM)
    assert eventually(lambda: [p for p in ephemeral_posts(slack_emulator) if "forgotten" in p["text"]])

    start_session(slack_emulator, coachbot, "Hi again.")
    assert memory_message(coaching_requests(fake_openai)[-1]) is None
    assert query(database_url, "SELECT count(*) FROM coach_commitments") == [(0,)]


def test_coach_memory_lists_each_item_to_edit_in_a_modal_or_delete(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    reply = start_session(slack_emulator, coachbot)
    fake_openai.queue_json(WRAP_UP)
    wrap_by_words(slack_emulator, coachbot, reply, "wrap up")

    slack_emulator.send_command(coachbot.events_url, "/coach", "memory", user_id="U0COACH", channel_id=DM)
    listing = eventually(lambda: [p for p in ephemeral_posts(slack_emulator) if p.get("blocks")])
    assert listing and listing[-1]["response_type"] == "ephemeral"
    blocks = listing[-1]["blocks"]
    assert "Delegate the weekly report" in json.dumps(blocks)

    (goal_id,) = query(database_url, "SELECT id FROM coach_goals")[0]
    slack_emulator.press_button(
        coachbot.events_url,
        action_id=EDIT_ACTION,
        value=f"goal:{goal_id}",
        ephemeral_blocks=blocks,
        channel=DM,
    )
    opened = eventually(lambda: slack_emulator.opened_views)
    assert opened, "views.open was called with the press's trigger_id"
    delivery = slack_emulator.submit_view(
        coachbot.events_url, opened[-1], {EDIT_BLOCK: {EDIT_INPUT: "Delegate the report and the budget"}}
    )
    assert delivery.status == 200
    assert query(database_url, "SELECT text FROM coach_goals") == [("Delegate the report and the budget",)]

    slack_emulator.press_button(
        coachbot.events_url,
        action_id=DELETE_ACTION,
        value=f"goal:{goal_id}",
        ephemeral_blocks=blocks,
        channel=DM,
        user="U0OTHER",
    )
    assert eventually(
        lambda: [p for p in ephemeral_posts(slack_emulator) if "no longer in your memory" in p["text"]]
    )
    assert query(database_url, "SELECT count(*) FROM coach_goals") == [(1,)]
    slack_emulator.press_button(
        coachbot.events_url,
        action_id=DELETE_ACTION,
        value=f"goal:{goal_id}",
        ephemeral_blocks=blocks,
        channel=DM,
    )
    assert eventually(lambda: query(database_url, "SELECT count(*) FROM coach_goals") == [(0,)])


def test_a_failed_wrap_up_ends_the_session_says_so_and_can_be_tried_again(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    reply = start_session(slack_emulator, coachbot)
    fake_openai.fail_next(500, times=2)  # the client's one retry fails too

    failed = wrap_by_words(slack_emulator, coachbot, reply, "wrap up")

    assert "couldn't write its summary" in failed.text
    assert query(database_url, "SELECT status FROM session_summaries") == [("failed",)]
    assert query(database_url, "SELECT is_active FROM coaching_sessions")[0][0] in (False, 0)

    fake_openai.queue_json(WRAP_UP)
    before = len(slack_emulator.replies_in(DM, reply.thread_ts or ""))
    slack_emulator.press_button(coachbot.events_url, action_id=WRAP_UP_ACTION, message=reply)
    summary = wait_for_summary(slack_emulator, reply.thread_ts or "", before)
    assert summary.text.startswith("Session wrapped up.")
    assert query(database_url, "SELECT status FROM session_summaries") == [("done",)]
