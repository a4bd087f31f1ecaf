"""Opening a coach's App Home and pressing its buttons, as Slack would, for the Home's tests."""

from __future__ import annotations

import json
from typing import Any

from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.waiting import eventually

DM = "D0COACH"


def publishes(slack: SlackEmulator, user: str | None = None) -> list[Any]:
    calls = slack.calls_to("views.publish")
    return [c for c in calls if user is None or c.args.get("user_id") == user]


def open_home(
    slack: SlackEmulator, server: BackgroundServer, user: str = "U0COACH", *, team_id: str | None = None
) -> dict[str, Any]:
    """Send ``app_home_opened`` (tab "home") signed, and return the view the app then published."""
    before = mark(slack, user)
    event = slack.app_home_opened(user=user, channel=DM)
    assert slack.send_event(server.events_url, slack.envelope(event, team_id=team_id)).status == 200
    return wait_for_publish(slack, user, before)


def mark(slack: SlackEmulator, user: str) -> tuple[int, str | None]:
    """Where the user's Home stands now: its publishes so far, and its view's hash."""
    view = slack.home_view(user)
    return len(publishes(slack, user)), view["hash"] if view else None


def wait_for_publish(
    slack: SlackEmulator, user: str, before: tuple[int, str | None], timeout: float = 10.0
) -> dict[str, Any]:
    """The Home view published after ``before`` (``mark``): the call arrived and the view is stored."""

    def published() -> dict[str, Any] | None:
        view = slack.home_view(user)
        fresh = len(publishes(slack, user)) > before[0] and view is not None and view["hash"] != before[1]
        return view if fresh else None

    view = eventually(published, timeout=timeout)
    assert view is not None, f"no views.publish for {user}"
    assert all(c.error is None for c in publishes(slack, user)), [c.error for c in publishes(slack, user)]
    return view


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"])


def button(view: dict[str, Any], action_id: str, value: str | None = None) -> dict[str, Any]:
    """The button ``action_id`` (with ``value``) as a press sends it: its fields and its block's id."""
    for block in view["blocks"]:
        elements = list(block.get("elements") or []) + (
            [block["accessory"]] if block.get("accessory") else []
        )
        for element in elements:
            if element.get("action_id") == action_id and (value is None or element.get("value") == value):
                return {**element, "block_id": block.get("block_id")}
    raise AssertionError(f"no button {action_id!r} ({value!r}) on the Home")


def press_on_home(
    slack: SlackEmulator, server: BackgroundServer, view: dict[str, Any], action: dict[str, Any], user: str
) -> None:
    """A ``block_actions`` press on the Home ``view`` by ``user`` (container type "view")."""
    payload = slack.block_actions(user_id=user, action=action, view=view)
    assert slack.send_interaction(server.events_url, payload).status == 200


def notices(slack: SlackEmulator) -> list[str]:
    """The one-line modals the app opened to answer presses on a Home."""
    return [
        json.dumps(v["blocks"]) for v in slack.opened_views if v.get("title", {}).get("text") == "coachbot"
    ]
