"""``coachbot try``'s page in a real browser: a person talks to the real app through the emulator.

Everything the page draws comes from the Web API calls the emulator recorded, fed over SSE;
everything the person does reaches the app as a signed Slack event or interaction.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.assembly.config import Settings
from bot.conversation.agent_panel import GREETING, SUGGESTED_PROMPTS
from devkit.tryout import TryOut, running_tryout
from tests.fixtures.waiting import eventually

COACH_DM = "D0COACH"
REPLY_TIMEOUT_MS = 30_000


@pytest.fixture
def tryout(tmp_path: Path) -> Iterator[TryOut]:
    """What `coachbot try` runs without a key: the app, the emulator, the page and the fake model."""
    with running_tryout(Settings(log_level="WARNING"), tmp_path / "try-data") as running:
        yield running


@pytest.fixture
def page(chromium: Any, tryout: TryOut) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(REPLY_TIMEOUT_MS)
    page.goto(tryout.url)
    page.wait_for_selector("body[data-feed=open]")
    yield page
    context.close()


def bot_texts(tryout: TryOut, channel: str) -> list[str]:
    return [m.text for m in tryout.slack.messages(channel) if m.is_bot]


def test_opening_app_home_greets_the_coach_with_the_suggested_prompts(page: Any, tryout: TryOut) -> None:
    page.get_by_text(GREETING[:40]).wait_for()
    for prompt in SUGGESTED_PROMPTS:
        page.locator("#prompts .prompt", has_text=prompt["title"]).wait_for()
    assert tryout.slack.calls_to("assistant.threads.setSuggestedPrompts")  # the app's own call

    page.locator("#tabs [data-tab=home]").click()
    page.locator("#home", has_text="Your sessions").wait_for()


def test_the_home_tab_shows_the_coachs_home_and_its_toggles_work(page: Any, tryout: TryOut) -> None:
    page.locator("#tabs [data-tab=home]").click()
    home = page.locator("#home")
    home.get_by_text("Your sessions").wait_for()
    home.locator(".bk-section", has_text="Check-ins on your commitments").get_by_role(
        "button", name="Turn off"
    ).click()

    home.locator(".bk-section", has_text="Check-ins on your commitments").get_by_role(
        "button", name="Turn on"
    ).wait_for()
    assert [c for c in tryout.slack.calls_to("views.publish") if c.ok], "the app published the Home"


def test_a_typed_message_gets_a_reply_that_streams_in(page: Any, tryout: TryOut) -> None:
    composer = page.locator("#composer textarea")
    composer.fill("I need to give critical feedback to a teammate tomorrow.")
    composer.press("Enter")

    thread = page.locator("#thread-messages")
    thread.locator(".message.person", has_text="critical feedback").wait_for()
    thread.locator(".message.bot.streaming").wait_for()  # seen while chat.appendStream arrives
    finished = thread.locator(".message.bot:not(.streaming)", has_text="good outcome")
    finished.wait_for()

    shown = finished.locator(".text").inner_text()
    (stored,) = [t for t in bot_texts(tryout, COACH_DM) if "good outcome" in t]
    assert "What would a good outcome look like for you?" in shown
    assert tryout.slack.calls_to("chat.startStream") and tryout.slack.calls_to("chat.stopStream")
    assert "**" in stored and "**" not in shown  # the page rendered the streamed markdown

    page.reload()  # the feed replays from the start: the page redraws the same conversation
    page.locator("#messages .message.person", has_text="critical feedback").locator(".replies").click()
    page.locator("#thread-messages .message.bot", has_text="good outcome").wait_for()


def test_pressing_a_suggested_prompt_starts_a_session_with_its_words(page: Any, tryout: TryOut) -> None:
    first = SUGGESTED_PROMPTS[0]
    page.locator("#prompts .prompt", has_text=first["title"]).click()

    thread = page.locator("#thread-messages")
    thread.locator(".message.person", has_text=first["message"][:30]).wait_for()
    thread.locator(".message.bot:not(.streaming)", has_text="good outcome").wait_for()


def test_a_block_kit_button_posts_a_real_block_actions_to_the_app(page: Any, tryout: TryOut) -> None:
    # What a capability's message with a button looks like, sent the way the app sends one.
    client = WebClient(token=tryout.slack.bot_token, base_url=tryout.slack.base_url)
    client.chat_postMessage(
        channel=COACH_DM,
        text="Ready to wrap up?",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Ready* to wrap up?"}},
            {
                "type": "actions",
                "block_id": "wrap",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "wrap_up",
                        "value": "s1",
                        "text": {"type": "plain_text", "text": "Wrap up"},
                    }
                ],
            },
            {"type": "video", "title": {"type": "plain_text", "text": "x"}},
        ],
    )
    message = page.locator("#messages .message.bot", has_text="Ready to wrap up?")
    message.locator("strong", has_text="Ready").wait_for()
    message.locator("[data-unsupported=video]").wait_for()  # a clear placeholder, not silence

    with page.expect_response(re.compile(r"/act/press$")) as pressed:
        message.get_by_role("button", name="Wrap up").click()
    answer = pressed.value.json()
    assert answer["ok"] and answer["status"] == 200  # the app verified the signature and acked

    (entry,) = [e for e in tryout.slack.feed.entries() if e["kind"] == "user" and e["action"] == "press"]
    assert entry["action_id"] == "wrap_up"


def test_an_admin_runs_perf_and_sees_the_answer_only_they_can_see(page: Any, tryout: TryOut) -> None:
    page.select_option("#acting-as", "U0ADMIN")
    composer = page.locator("#composer textarea")
    composer.fill("/perf")
    composer.press("Enter")
    answer = page.locator("#messages .ephemeral")
    answer.locator(".only-you").wait_for()
    answer.locator(".bk-header").wait_for()

    page.select_option("#acting-as", "U0COACH")
    page.get_by_text(GREETING[:40]).wait_for()  # the coach's own DM
    assert page.locator("#messages .ephemeral").count() == 0


def test_a_dropped_file_reaches_the_app_as_a_file_share(page: Any, tryout: TryOut, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Agreed: Sam runs the next release retro.\n")
    page.locator("#composer input[type=file]").set_input_files(str(notes))

    page.locator("#thread-messages .file", has_text="notes.txt").wait_for()
    page.locator("#thread-messages .message.bot:not(.streaming)").first.wait_for()
    entries = tryout.slack.feed.entries()
    (share,) = [e for e in entries if e["kind"] == "user" and e.get("files")]
    assert share["files"][0]["name"] == "notes.txt"
    (delivery,) = [e for e in entries if e["kind"] == "delivery" and e["of"] == share["id"]]
    assert delivery["status"] == 200  # a file_share message event, acked by the app


def test_a_modal_opened_from_a_press_shows_its_inputs_and_submits_a_view_submission(
    page: Any, tryout: TryOut
) -> None:
    client = WebClient(token=tryout.slack.bot_token, base_url=tryout.slack.base_url)
    edit = {"type": "button", "action_id": "edit", "text": {"type": "plain_text", "text": "Edit"}}
    client.chat_postMessage(
        channel=COACH_DM,
        text="A commitment",
        blocks=[{"type": "actions", "block_id": "c", "elements": [edit]}],
    )
    page.locator("#messages .message.bot", has_text="Edit").get_by_role("button", name="Edit").click()
    press = eventually(
        lambda: [e for e in tryout.slack.feed.entries() if e["kind"] == "user" and e["action"] == "press"]
    )
    # What a capability does with the press's trigger: open a modal for the person who pressed.
    client.views_open(
        trigger_id=press[0]["trigger_id"],
        view={
            "type": "modal",
            "title": {"type": "plain_text", "text": "Edit commitment"},
            "submit": {"type": "plain_text", "text": "Save"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "what",
                    "label": {"type": "plain_text", "text": "What will you do?"},
                    "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
                }
            ],
        },
    )
    modal = page.locator("#modal")
    modal.get_by_label("What will you do?").fill("Ask Sam for the release plan by Friday")
    with page.expect_response(re.compile(r"/act/submit$")) as submitted:
        modal.get_by_role("button", name="Save").click()
    assert submitted.value.json()["status"] == 200
    page.locator("#modal-backdrop").wait_for(state="hidden")  # an empty ack closes the modal, as in Slack


def test_a_thumbs_down_on_the_page_asks_what_would_have_helped_and_sends_the_answer(
    page: Any, tryout: TryOut
) -> None:
    composer = page.locator("#composer textarea")
    composer.fill("Help me plan a hard conversation.")
    composer.press("Enter")
    thread = page.locator("#thread-messages")
    reply = thread.locator(".message.bot:not(.streaming)", has_text="good outcome")
    reply.wait_for()

    reply.locator("button.feedback[title='This reply did not help']").click()
    question = thread.locator(".message.ephemeral", has_text="What would have helped?")
    question.locator("textarea").fill("A first sentence to open with.")
    question.get_by_role("button", name="Send").click()

    thread.locator(".message.ephemeral", has_text="your note is saved").wait_for()
    database = tryout.app.runtime.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT rating, note FROM reply_feedback").fetchall()
    assert rows == [("negative", "A first sentence to open with.")]
