"""A local Slack: the Web API the app calls, plus the Events API side that calls the app.

The emulator lives in the ``devkit.slack`` package (one module per concept); this module
keeps ``from devkit.slack_emulator import SlackEmulator, Message, ...`` working and runs
it standalone: ``python -m devkit.slack_emulator --port 0``.

Socket Mode too: ``apps.connections.open`` (app-level ``xapp-`` token) hands out a
``ws://`` URL served here, and ``send_socket_event`` pushes an ``events_api``
envelope down that WebSocket and waits for the app's ack.
"""

from __future__ import annotations

import argparse

import devkit.slack
from devkit._server import serve_until_signalled
from devkit.slack import *  # noqa: F403  (the public names, re-exported for existing imports)
from devkit.slack import EmulatorRules, SlackEmulator

__all__ = [*devkit.slack.__all__, "main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the devkit Slack emulator until SIGTERM/SIGINT.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bot-token", default="xoxb-devkit")
    parser.add_argument("--app-token", default="xapp-devkit")
    parser.add_argument("--signing-secret", default="devkit-signing-secret")
    parser.add_argument("--team-id", default="T0DEVKIT")
    parser.add_argument("--bot-user-id", default="U0BOT")
    parser.add_argument("--bot-id", default="B0BOT")
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="answer every call at once (Slack's tiers are enforced by default)",
    )
    opts = parser.parse_args(argv)
    emulator = SlackEmulator(
        bot_token=opts.bot_token,
        app_token=opts.app_token,
        signing_secret=opts.signing_secret,
        team_id=opts.team_id,
        bot_user_id=opts.bot_user_id,
        bot_id=opts.bot_id,
        host=opts.host,
        port=opts.port,
        rules=EmulatorRules(rate_limits=not opts.no_rate_limits),
    )
    serve_until_signalled(lambda: emulator.start().base_url, emulator.stop)


if __name__ == "__main__":
    main()
