"""The demo's App Home step: the coach opens coachbot's Home tab, and the demo prints what it shows.

A signed ``app_home_opened`` (tab "home") goes to the real app, which answers with one
views.publish; the view the emulator received is printed as text (links and Slack's date tokens
shown by their labels, buttons in brackets).
"""

from __future__ import annotations

import re
import time
from typing import Any

from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator

_LINK = re.compile(r"<(?:!date\^[^|>]*|[^|>]*)\|([^>]*)>")
MAX_LINES = 40


def _plain(text: str) -> str:
    return _LINK.sub(r"\1", text).replace("*", "").replace("\n", " · ")


def _buttons(elements: list[dict[str, Any]]) -> str:
    return " ".join(f"[{e['text']['text']}]" for e in elements if e.get("type") == "button")


def render_home(view: dict[str, Any]) -> list[str]:
    """The Home's blocks as short lines of text."""
    lines = []
    for block in view.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"\n  {block['text']['text'].upper()}")
        elif kind == "section":
            text = _plain((block.get("text") or {}).get("text", ""))
            fields = " | ".join(_plain(f["text"]) for f in block.get("fields") or [])
            accessory = _buttons([block["accessory"]]) if block.get("accessory") else ""
            lines.append(f"    {text or fields} {accessory}".rstrip())
        elif kind == "context":
            lines.append(f"      ({_plain(block['elements'][0].get('text', ''))})")
        elif kind == "actions":
            lines.append(f"      {_buttons(block.get('elements') or [])}")
    return lines


def show_home(
    slack: SlackEmulator, server: BackgroundServer, user: str = "U0COACH", channel: str = "D0COACH"
) -> None:
    """The coach opens App Home; print the published view as text."""
    before = len(slack.calls_to("views.publish"))
    event = slack.app_home_opened(user=user, channel=channel)
    started = time.perf_counter()
    slack.send_event(server.events_url, event)
    deadline = started + 10
    while len(slack.calls_to("views.publish")) == before and time.perf_counter() < deadline:
        time.sleep(0.01)
    published = slack.calls_to("views.publish")[before:]
    view = slack.home_view(user)
    if not published or view is None:
        print("  (no views.publish)")
        return
    elapsed = (published[0].at - started) * 1000
    print(f"  one views.publish, {elapsed:.0f} ms after app_home_opened; {len(view['blocks'])} blocks:")
    lines = render_home(view)
    for line in lines[:MAX_LINES]:
        print(line)
    if len(lines) > MAX_LINES:
        print(f"    … ({len(lines) - MAX_LINES} more lines)")
