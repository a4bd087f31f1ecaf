"""The emulator's views.* methods and interactions refuse what Slack's method pages say Slack refuses."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devkit import payloads
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.clock import FakeClock

MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Edit a commitment"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "what",
            "label": {"type": "plain_text", "text": "What"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}]}


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=clock) as started:
        yield started


def web(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=emulator.bot_token, retry_handlers=[])


def error_of(call: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as refused:
        call(**kwargs)
    return str(refused.value.response["error"])


def test_views_open_exchanges_a_trigger_slack_issued_once_within_three_seconds(
    emulator: SlackEmulator, clock: FakeClock
) -> None:
    client = web(emulator)
    trigger = emulator.issue_trigger()
    opened = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["title"]["text"] == "Edit a commitment"

    assert error_of(client.views_open, trigger_id=trigger, view=MODAL) == "exchanged_trigger_id"
    assert error_of(client.views_open, trigger_id="1.2.made-up", view=MODAL) == "invalid_trigger_id"
    late = emulator.issue_trigger()
    clock.advance(3.5)
    assert error_of(client.views_open, trigger_id=late, view=MODAL) == "expired_trigger_id"


def test_a_modal_needs_a_short_title_and_a_submit_for_its_inputs(emulator: SlackEmulator) -> None:
    client = web(emulator)
    long_title = dict(MODAL, title={"type": "plain_text", "text": "A title longer than 24 chars"})
    no_submit = {k: v for k, v in MODAL.items() if k != "submit"}
    for view in (long_title, no_submit, HOME):
        assert (
            error_of(client.views_open, trigger_id=emulator.issue_trigger(), view=view) == "invalid_arguments"
        )


def test_views_update_refuses_a_stale_hash(emulator: SlackEmulator) -> None:
    client = web(emulator)
    opened = client.views_open(trigger_id=emulator.issue_trigger(), view=MODAL)["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)["view"]
    assert updated["id"] == opened["id"]
    assert (
        error_of(client.views_update, view_id=opened["id"], hash=opened["hash"], view=MODAL)
        == "hash_conflict"
    )
    assert error_of(client.views_update, view_id="VNOPE", view=MODAL) == "not_found"


def test_views_publish_sets_a_users_home_tab_which_app_home_opened_carries(emulator: SlackEmulator) -> None:
    client = web(emulator)
    assert error_of(client.views_publish, user_id="U0COACH", view=MODAL) == "invalid_arguments"
    published = client.views_publish(user_id="U0COACH", view=HOME)["view"]
    assert emulator.home_view("U0COACH") == published
    assert emulator.home_view("U0ADMIN") is None

    # Slack's event page: a view (the Home as it stands, with its hash) only for the Home tab,
    # and only once a view was published there.
    opened = emulator.app_home_opened(user="U0COACH", channel="D0COACH")
    assert opened["tab"] == "home" and opened["view"]["hash"] == published["hash"]
    assert "view" not in emulator.app_home_opened(user="U0COACH", channel="D0COACH", tab="messages")
    assert "view" not in emulator.app_home_opened(user="U0ADMIN", channel="D0ADMIN")
    with pytest.raises(ValueError):
        payloads.app_home_opened_event(
            user="U0COACH", channel="D0COACH", event_ts="1.0", tab="messages", view=published
        )


def test_another_process_reads_a_users_home_view_over_http(emulator: SlackEmulator) -> None:
    published = web(emulator).views_publish(user_id="U0COACH", view=HOME)["view"]
    origin = emulator.base_url.removesuffix("/api/")

    with urllib.request.urlopen(f"{origin}/_devkit/home_view?user=U0COACH", timeout=5) as response:
        assert json.loads(response.read())["hash"] == published["hash"]
    with urllib.request.urlopen(f"{origin}/_devkit/home_view?user=U0ADMIN", timeout=5) as response:
        assert json.loads(response.read()) is None


def test_views_publish_keeps_the_home_views_documented_limits(emulator: SlackEmulator) -> None:
    client = web(emulator)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert error_of(client.views_publish, user_id="", view=HOME) == "invalid_arguments"
    assert error_of(client.views_publish, user_id="U0COACH", view={**HOME, "blocks": [section] * 101}) == (
        "invalid_arguments"
    )
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert error_of(client.views_publish, user_id="U0COACH", view={**HOME, "blocks": [too_long]}) == (
        "invalid_arguments"
    )
    with_submit = {**HOME, "submit": {"type": "plain_text", "text": "Save"}}
    assert error_of(client.views_publish, user_id="U0COACH", view=with_submit) == "invalid_arguments"
    published = client.views_publish(user_id="U0COACH", view=HOME)["view"]
    assert error_of(client.views_publish, user_id="U0COACH", view=HOME, hash="stale") == "hash_conflict"
    assert client.views_publish(user_id="U0COACH", view=HOME, hash=published["hash"])["ok"]


def test_views_publish_is_not_enabled_for_an_app_whose_home_tab_is_off(emulator: SlackEmulator) -> None:
    emulator.home_tab_enabled = False  # as a manifest with home_tab_enabled: false
    assert error_of(web(emulator).views_publish, user_id="U0COACH", view=HOME) == "not_enabled"


async def test_a_button_press_is_a_signed_form_post_bolt_reads_as_block_actions(
    emulator: SlackEmulator,
) -> None:
    client = web(emulator)
    done = {
        "type": "button",
        "action_id": "done",
        "value": "7",
        "text": {"type": "plain_text", "text": "Done"},
    }
    posted = client.chat_postMessage(
        channel="D0COACH", text="Done?", blocks=[{"type": "actions", "block_id": "b", "elements": [done]}]
    )
    (message,) = [m for m in emulator.messages("D0COACH") if m.ts == posted["ts"]]
    button = {"type": "button", "action_id": "done", "block_id": "b", "value": "7"}
    payload = emulator.block_actions(user_id="U0COACH", action=button, message=message)

    form = f"payload={json.dumps(payload)}"
    request = AsyncBoltRequest(body=form, headers={"content-type": "application/x-www-form-urlencoded"})
    assert request.body["type"] == "block_actions"
    assert request.body["actions"][0]["action_id"] == "done" and request.body["actions"][0]["value"] == "7"
    assert request.context.user_id == "U0COACH" and request.context.channel_id == "D0COACH"
    # Its trigger opens a modal, as a real press's does.
    assert web(emulator).views_open(trigger_id=payload["trigger_id"], view=MODAL)["ok"]


def test_the_feed_is_off_until_a_page_opens_it_then_records_every_answered_call(
    emulator: SlackEmulator,
) -> None:
    web(emulator).auth_test()
    assert emulator.feed is None
    feed = emulator.open_feed()
    web(emulator).chat_postMessage(channel="D0COACH", text="hello")
    (entry,) = feed.entries()
    assert entry["method"] == "chat.postMessage" and entry["response"]["ok"]
    assert "token" not in entry["args"]
