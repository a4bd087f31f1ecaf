"""Every correctly signed request gets a 2xx, whether or not coachbot acts on it.

Slack counts any other answer as a failed delivery, retries it and may disable the subscription.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator


def test_an_event_type_no_listener_handles_is_answered_200(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    reaction = {
        "type": "reaction_added",
        "user": "U0COACH",
        "reaction": "tada",
        "item": {"type": "message", "channel": "C0LEADS", "ts": slack_emulator.ts()},
        "event_ts": slack_emulator.ts(),
    }

    delivery = slack_emulator.send_event(coachbot.events_url, reaction)

    assert delivery.status == 200


def test_a_message_subtype_no_listener_handles_is_answered_200(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    joined = {
        "type": "message",
        "subtype": "channel_join",
        "user": "U0OTHER",
        "text": "<@U0OTHER> has joined the channel",
        "channel": "C0LEADS",
        "channel_type": "channel",
        "ts": slack_emulator.ts(),
    }

    assert slack_emulator.send_event(coachbot.events_url, joined).status == 200


def test_an_interaction_no_listener_handles_is_answered_200(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": slack_emulator.team_id},
        "user": {"id": "U0COACH"},
        "actions": [{"action_id": "something_old", "type": "button", "value": "1"}],
        "trigger_id": "1.2.3",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()

    delivery = slack_emulator.post_signed(
        coachbot.events_url, body, content_type="application/x-www-form-urlencoded"
    )

    assert delivery.status == 200


def test_a_bad_signature_on_an_unknown_event_is_still_401(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    body = json.dumps(slack_emulator.envelope({"type": "reaction_added", "user": "U0COACH"})).encode()

    assert slack_emulator.post_signed(coachbot.events_url, body, secret="wrong").status == 401
