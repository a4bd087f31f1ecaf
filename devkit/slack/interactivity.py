"""Interactivity: a user presses a button (block_actions), the app opens a modal (views.open), the
user submits it (view_submission).

As Slack's pages say:

- a button can be pressed only where it is shown: ``press_button`` finds it by ``action_id`` in
  the message's blocks (a posted message, or an ephemeral one's blocks) and sends what it holds;
  a ``feedback_buttons`` element (in a ``context_actions`` block) is pressed on its positive or
  negative button (``choice``), and the action is Slack's ``{"type": "feedback_buttons", "value":
  <that button's value>, "text": <its text>}``; what was typed into the message's inputs rides
  in ``state.values`` (``typed``: ``{block_id: {action_id: text}}``);
- the press's ``trigger_id`` may be exchanged once (``exchanged_trigger_id``), within 3 seconds
  (``expired_trigger_id``); one never issued is ``invalid_trigger_id``;
- ``views.open`` needs ``view``, a modal within Slack's limits (checked and kept by
  ``devkit.slack.views``); it needs no scope and is Tier 4;
- the payloads are POSTed form-encoded (``payload=<json>``), signed.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from devkit import payloads
from devkit.slack.records import Delivery, Message, SlackError
from devkit.slack.sender import EventSenderMixin


class InteractivityMixin(EventSenderMixin):
    """Buttons, triggers and modals."""

    def _setup_interactivity(self) -> None:
        #: Every view views.open opened, newest last (``id`` and ``user`` added as Slack does).
        self.opened_views: list[dict[str, Any]] = []

    def issue_trigger_id(self) -> str:
        """A trigger_id this emulator will exchange once, within 3 s (devkit.slack.views keeps them)."""
        return self.issue_trigger()

    # ----------------------------------------------------------------- the user's side

    def press_button(
        self,
        url: str,
        *,
        action_id: str,
        message: Message | None = None,
        ephemeral_blocks: list[dict[str, Any]] | None = None,
        channel: str | None = None,
        user: str = "U0COACH",
        value: str | None = None,
        team_id: str | None = None,
        choice: str = "positive",
        typed: dict[str, dict[str, str]] | None = None,
        thread_ts: str | None = None,
    ) -> Delivery:
        """Press the button ``action_id`` (and ``value``, when several share it) shown in ``message``
        or in an ephemeral message's ``ephemeral_blocks`` (posted in ``thread_ts``); AssertionError
        when no such button shows. A feedback_buttons element is pressed on its ``choice`` button."""
        blocks = message.blocks if message is not None else ephemeral_blocks
        block_id, button = _find_button(blocks or [], action_id, value)
        action = _pressed(button, action_id, block_id, choice)
        response_id = f"{next(self._response_ids)}-{secrets.token_hex(4)}"
        channel_id = message.channel if message is not None else (channel or "")
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message.ts if message is not None else self.ts(),
            "channel_id": channel_id,
            "is_ephemeral": message is None,
        }
        if thread_ts is not None:
            container["thread_ts"] = thread_ts
        body: dict[str, Any] = {
            "type": "block_actions",
            "user": self._payload_user(user, team_id),
            "api_app_id": self.app_id,
            "token": payloads.VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": self.issue_trigger_id(),
            "team": {"id": team_id or self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {
                "id": channel_id,
                "name": "directmessage" if channel_id.startswith("D") else "general",
            },
            "state": {"values": _state(typed or {})},
            "response_url": f"{self.origin}/response_url/{response_id}",
            "actions": [action],
        }
        if message is not None:
            container["thread_ts"] = message.thread_ts
            body["message"] = message.to_slack()
        return self._post_payload(url, body)

    def submit_view(
        self, url: str, view: dict[str, Any], values: dict[str, dict[str, str]], *, user: str = "U0COACH"
    ) -> Delivery:
        """Submit an opened ``view`` (from ``opened_views``) with ``{block_id: {action_id: value}}``."""
        state = _state(values)
        body = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._payload_user(user, None),
            "api_app_id": self.app_id,
            "token": payloads.VERIFICATION_TOKEN,
            "trigger_id": self.issue_trigger_id(),
            "view": {**view, "state": {"values": state}},
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        delivery = self._post_payload(url, body)
        self._apply_response_action(view, delivery)
        return delivery

    def _apply_response_action(self, view: dict[str, Any], delivery: Delivery) -> None:
        """The ack's ``response_action: update`` replaces the modal's view, as Slack does: the same
        view id (so views.update can follow), checked like views.update's ``view``."""
        try:
            answer = delivery.json() if delivery.ok else None
        except ValueError:
            return
        if not isinstance(answer, dict) or answer.get("response_action") != "update":
            return
        with self._lock:
            current = self._views.get(str(view.get("id") or ""))
        if current is None:
            raise AssertionError("response_action update for a view Slack never opened")
        self._store_view(self._view_argument({"view": answer.get("view")}, "modal"), replacing=current)

    def _payload_user(self, user: str, team_id: str | None) -> dict[str, Any]:
        name = str(self.users.get(user, {}).get("name", user.lower()))
        return {"id": user, "username": name, "name": name, "team_id": team_id or self.team_id}

    def _post_payload(self, url: str, body: dict[str, Any]) -> Delivery:
        form = urlencode({"payload": json.dumps(body)}).encode("ascii")
        return self.post_signed(url, form, "application/x-www-form-urlencoded")

    # ----------------------------------------------------------------- the app's side

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.open as devkit.slack.views answers it, each opened modal also kept in ``opened_views``."""
        if not (args.get("trigger_id") or args.get("interactivity_pointer")):
            raise SlackError("invalid_trigger_id")
        opened = super()._views_open(args)
        with self._lock:
            self.opened_views.append(opened["view"])
        return opened


def _state(values: dict[str, dict[str, str]]) -> dict[str, Any]:
    """``{block_id: {action_id: text}}`` as Slack's ``state.values`` of plain_text inputs."""
    return {
        block_id: {
            action_id: {"type": "plain_text_input", "value": text} for action_id, text in actions.items()
        }
        for block_id, actions in values.items()
    }


def _pressed(button: dict[str, Any], action_id: str, block_id: str, choice: str) -> dict[str, Any]:
    """The ``actions[0]`` of a press, as Slack sends it for a button or for feedback buttons."""
    action_ts = f"{time.time():.6f}"
    if button.get("type") == "feedback_buttons":
        chosen = button[f"{choice}_button"]
        return {
            "type": "feedback_buttons",
            "action_id": action_id,
            "block_id": block_id,
            "text": chosen.get("text"),
            "value": chosen.get("value"),
            "action_ts": action_ts,
        }
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": button.get("text"),
        "value": button.get("value"),
        "style": button.get("style"),
        "action_ts": action_ts,
    }


def _find_button(
    blocks: list[dict[str, Any]], action_id: str, value: str | None
) -> tuple[str, dict[str, Any]]:
    for block in blocks:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if (
                isinstance(element, dict)
                and element.get("type") in ("button", "feedback_buttons")
                and element.get("action_id") == action_id
                and (value is None or element.get("value") == value)
            ):
                return str(block.get("block_id") or secrets.token_hex(3)), element
    raise AssertionError(f"no button {action_id!r} (value {value!r}) is shown in these blocks")
