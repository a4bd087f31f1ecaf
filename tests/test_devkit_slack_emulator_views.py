"""The emulator's views.open: a trigger_id is good once, for 3 seconds, and a view keeps Slack's limits;
a submission acked with ``response_action: update`` replaces the modal's view under the same id."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devkit.slack.records import SlackError
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.clock import FakeClock

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "edit",
    "title": {"type": "plain_text", "text": "Edit goal"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "b",
            "label": {"type": "plain_text", "text": "Goal"},
            "element": {"type": "plain_text_input", "action_id": "a"},
        }
    ],
}


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=clock) as slack:
        yield slack


def web(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=emulator.bot_token, retry_handlers=[])


def error_of(emulator: SlackEmulator, **args: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        web(emulator).views_open(**args)
    return str(caught.value.response["error"])


def test_a_trigger_id_opens_one_view_once(emulator: SlackEmulator) -> None:
    trigger_id = emulator.issue_trigger_id()

    opened = web(emulator).views_open(trigger_id=trigger_id, view=MODAL)

    assert opened["view"]["callback_id"] == "edit" and opened["view"]["id"].startswith("V")
    assert emulator.opened_views[-1]["id"] == opened["view"]["id"]
    assert error_of(emulator, trigger_id=trigger_id, view=MODAL) == "exchanged_trigger_id"


def test_a_trigger_id_expires_after_three_seconds_and_an_unknown_one_is_invalid(
    emulator: SlackEmulator, clock: FakeClock
) -> None:
    trigger_id = emulator.issue_trigger_id()
    clock.advance(3.5)

    assert error_of(emulator, trigger_id=trigger_id, view=MODAL) == "expired_trigger_id"
    assert error_of(emulator, trigger_id="1.2.abc", view=MODAL) == "invalid_trigger_id"


@pytest.mark.parametrize(
    "change",
    [
        {"title": {"type": "plain_text", "text": "A title longer than 24 characters"}},
        {"type": "home"},
        {"submit": None},  # input blocks need a submit button
        {"private_metadata": "x" * 3001},
    ],
)
def test_a_view_outside_slacks_limits_is_refused(emulator: SlackEmulator, change: dict[str, Any]) -> None:
    view = {key: value for key, value in {**MODAL, **change}.items() if value is not None}

    assert error_of(emulator, trigger_id=emulator.issue_trigger_id(), view=view) == "invalid_arguments"


def test_only_a_button_that_is_shown_can_be_pressed(emulator: SlackEmulator) -> None:
    blocks = [
        {"type": "actions", "elements": [{"type": "button", "action_id": "go", "value": "1", "text": {}}]}
    ]

    with pytest.raises(AssertionError):
        emulator.press_button(
            "http://127.0.0.1:9/", action_id="missing", ephemeral_blocks=blocks, channel="D1"
        )


@pytest.mark.parametrize(
    "block",
    [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {"text": "y" * 76}}]},
        {
            "type": "actions",
            "elements": [{"type": "button", "action_id": "a", "value": "v" * 2001, "text": {}}],
        },
        {"type": "actions", "elements": []},
    ],
)
def test_a_message_breaking_block_kits_limits_is_invalid_blocks(emulator: SlackEmulator, block: dict) -> None:
    with pytest.raises(SlackApiError) as caught:
        web(emulator).chat_postMessage(channel="D0COACH", text="t", blocks=[block])

    assert caught.value.response["error"] == "invalid_blocks"


class _AnsweringApp:
    """An app endpoint that acks every request with ``answer`` (JSON), as a view_submission ack."""

    def __init__(self, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slack/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_submission_acked_with_response_action_update_replaces_the_modals_view(
    emulator: SlackEmulator,
) -> None:
    opened = web(emulator).views_open(trigger_id=emulator.issue_trigger_id(), view=MODAL)["view"]
    shown = {**MODAL, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Saved."}}]}
    shown.pop("submit")
    app = _AnsweringApp({"response_action": "update", "view": shown})
    try:
        assert emulator.submit_view(app.url, opened, {"b": {"a": "Hire two"}}).ok
    finally:
        app.close()

    now = emulator.view(opened["id"])
    assert now is not None and now["blocks"] == shown["blocks"], "the same view id, the new view"
    web(emulator).views_update(view_id=opened["id"], view=MODAL)  # and views.update can follow


def test_a_response_action_update_with_a_view_outside_slacks_limits_is_refused(
    emulator: SlackEmulator,
) -> None:
    opened = web(emulator).views_open(trigger_id=emulator.issue_trigger_id(), view=MODAL)["view"]
    app = _AnsweringApp(
        {"response_action": "update", "view": {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}}
    )
    try:
        with pytest.raises(SlackError, match="invalid_arguments"):
            emulator.submit_view(app.url, opened, {"b": {"a": "Hire two"}})
    finally:
        app.close()
