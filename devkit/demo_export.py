"""The demo's export step: the coach asks for their data and two files arrive in their DM."""

from __future__ import annotations

import time

from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator

COACH = "U0COACH"


def run_export(slack: SlackEmulator, server: BackgroundServer, channel: str) -> None:
    """``/coach export`` in ``channel``: the ephemeral answer, then the files Slack received."""
    print(f"  {'coach':>9}: /coach export")
    posts_before = len(slack.response_url_posts())
    dm = slack.dm_channel_of(COACH)
    files_before = sum(len(m.files or []) for m in slack.messages(dm))
    slack.send_command(server.events_url, "/coach", "export", user_id=COACH, channel_id=channel)
    deadline = time.monotonic() + 30
    shared: list[dict[str, object]] = []
    while time.monotonic() < deadline and not shared:
        shared = [f for m in slack.messages(dm) for f in (m.files or [])][files_before:]
        time.sleep(0.05)
    for post in slack.response_url_posts()[posts_before:][:1]:
        print(f"  {'coachbot':>9}: (only you can see this) {post.body.get('text')}")
    if not shared:
        print("  (no export arrived)")
        return
    print(f"  In the coach's DM ({dm}), uploaded streamed from disk:")
    for file in shared:
        print(f"    {file['name']}  {int(str(file['size'])):,} bytes")
