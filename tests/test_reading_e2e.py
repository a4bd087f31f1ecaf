"""The coach reads shared files, end to end.

Signed file_share and message events go over HTTP into the real app, which downloads the files
from the devkit Slack emulator, stores and indexes them, and sends its model request to the fake
OpenAI server, whose recorded requests show exactly what the model was given. Every test runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.prompt import REFERENCES_INTRO
from devkit.fake_openai import FakeOpenAI, image_urls
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.documents import tiny_pdf, tiny_png

DM = "D0COACH"
NOTES = (
    b"One-on-one with Ada, 3 March.\n\n"
    b"Ada wants to hand the weekly budget report to Bob, but worries she will lose visibility "
    b"into spending. We agreed she will review Bob's first two reports with him.\n\n"
    b"Hiring: two backend engineers by September; the job ad goes out next week."
)


def excerpts_sent(request_body: dict[str, Any]) -> list[str]:
    """The excerpt messages of a model request."""
    return [
        m["content"]
        for m in request_body["messages"]
        if m["role"] == "system" and str(m["content"]).startswith(REFERENCES_INTRO)
    ]


def last_user_content(request_body: dict[str, Any]) -> Any:
    return [m for m in request_body["messages"] if m["role"] == "user"][-1]["content"]


@pytest.fixture
def text_only_bot(settings: Settings) -> Iterator[BackgroundServer]:
    """The app with OPENAI_VISION=false: images stay out of the model request."""
    with BackgroundServer(settings.with_overrides(openai_vision="false")) as server:
        yield server


def test_a_question_shared_with_a_text_file_gets_its_relevant_excerpt_labelled_with_the_name(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    file = slack_emulator.add_file("ada-notes.txt", content=NOTES)
    event = slack_emulator.file_share(
        channel=DM, files=[file], text="How should Ada hand over the budget report?"
    )

    converse(slack_emulator, coachbot, event)

    [excerpts] = excerpts_sent(fake_openai.requests[-1].body)
    assert '[From the file "ada-notes.txt"]' in excerpts
    assert "hand the weekly budget report to Bob" in excerpts
    assert last_user_content(fake_openai.requests[-1].body) == "How should Ada hand over the budget report?"


def test_later_turns_in_the_session_still_read_the_file(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    pdf = tiny_pdf(["Engagement survey", "Only 62% feel heard by their manager in one-on-ones."])
    file = slack_emulator.add_file("survey.pdf", content=pdf, mimetype="application/pdf")
    shared = slack_emulator.file_share(channel=DM, files=[file])
    converse(slack_emulator, coachbot, shared)  # confirmed without the model
    assert fake_openai.requests == []

    follow_up = slack_emulator.user_says(
        channel=DM, text="How many feel heard by their manager?", thread_ts=shared["ts"]
    )
    converse(slack_emulator, coachbot, follow_up)

    [excerpts] = excerpts_sent(fake_openai.requests[-1].body)
    assert '[From the file "survey.pdf"]' in excerpts
    assert "62% feel heard" in excerpts


def test_a_session_without_files_sends_no_excerpts(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    other = slack_emulator.add_file("ada-notes.txt", content=NOTES)
    converse(slack_emulator, coachbot, slack_emulator.file_share(channel="D0OTHER", files=[other]))

    converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="How do I hand over a report?")
    )

    body = fake_openai.requests[-1].body
    assert excerpts_sent(body) == []
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_an_image_shared_with_a_question_reaches_the_model_as_image_input(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    png = tiny_png(4, 3)
    file = slack_emulator.add_file("org-chart.png", content=png, mimetype="image/png")
    event = slack_emulator.file_share(channel=DM, files=[file], text="What do you notice in this org chart?")

    converse(slack_emulator, coachbot, event)

    body = fake_openai.requests[-1].body
    assert image_urls(body) == ["data:image/png;base64," + base64.b64encode(png).decode()]
    assert last_user_content(body)[0] == {"type": "text", "text": "What do you notice in this org chart?"}
    assert excerpts_sent(body) == []  # images are not indexed as text

    follow_up = slack_emulator.user_says(channel=DM, text="And what next?", thread_ts=event["ts"])
    converse(slack_emulator, coachbot, follow_up)

    later = fake_openai.requests[-1].body
    assert image_urls(later) == []  # the history stays text
    assert all(isinstance(m["content"], str) for m in later["messages"])


def test_with_vision_off_an_image_is_stored_but_not_sent(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, text_only_bot: BackgroundServer
) -> None:
    file = slack_emulator.add_file("org-chart.png", content=tiny_png(), mimetype="image/png")
    event = slack_emulator.file_share(channel=DM, files=[file], text="What do you notice?")

    converse(slack_emulator, text_only_bot, event)

    body = fake_openai.requests[-1].body
    assert image_urls(body) == []
    assert last_user_content(body) == "What do you notice?"


def test_an_image_shared_without_a_word_is_looked_at_by_a_model_that_takes_images(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    png = tiny_png(5, 5)
    file = slack_emulator.add_file("whiteboard.png", content=png, mimetype="image/png")
    fake_openai.queue_reply("I see a plan with three owners.")
    event = slack_emulator.file_share(channel=DM, files=[file])

    reply = converse(slack_emulator, coachbot, event)

    assert reply.text == "I see a plan with three owners."
    body = fake_openai.requests[-1].body
    assert last_user_content(body) == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}}
    ]


def test_with_vision_off_an_image_shared_alone_is_confirmed_without_a_model_call(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, text_only_bot: BackgroundServer
) -> None:
    file = slack_emulator.add_file("whiteboard.png", content=tiny_png(), mimetype="image/png")
    event = slack_emulator.file_share(channel=DM, files=[file])

    reply = converse(slack_emulator, text_only_bot, event)

    assert "whiteboard.png" in reply.text
    assert fake_openai.requests == []
