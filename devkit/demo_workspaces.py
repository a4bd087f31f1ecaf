"""The demo's second part: one deployment, two workspaces installing it through the OAuth flow.

The app runs in OAuth mode (SLACK_CLIENT_ID set, no SLACK_BOT_TOKEN). Each workspace's admin
opens /slack/install, approves on the emulator's authorize page, and the app exchanges the code
with oauth.v2.access; then a coach in each workspace is coached with that workspace's own token.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.oauth_browser import install
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database

CLIENT_ID, CLIENT_SECRET = "1111.2222", "demo-client-secret"
WORKSPACES = (("T0ACME", "Acme", "D0ACME"), ("T0GLOBEX", "Globex", "D0GLOBEX"))


def _masked(token: str) -> str:
    return f"{token[:5]}…{token[-4:]}"


def run_two_workspaces(
    slack: SlackEmulator, model: FakeOpenAI, folder: Path, say: Callable[[str, str], None]
) -> None:
    """Install coachbot in two workspaces through the local OAuth flow, then coach in both."""
    database = folder / "coachbot-multi.db"
    settings = Settings(
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_signing_secret=slack.signing_secret,
        slack_api_url=slack.base_url,
        openai_api_key=model.api_key,
        openai_base_url=model.base_url,
        database_url=f"sqlite:///{database}",
        log_level="WARNING",
        attachments_dir=str(folder / "attachments-multi"),
    )
    upgrade_database(settings.database_url)
    for team, name, _ in WORKSPACES:
        slack.add_installable_workspace(team, name)
    server = BackgroundServer(settings)
    slack.oauth_app(CLIENT_ID, CLIENT_SECRET, redirect_uri=f"{server.url}/slack/oauth_redirect")
    with server:
        for team, name, _ in WORKSPACES:
            outcome = install(server.url, team_id=team)
            (token,) = slack.tokens_of(team)
            print(f"  {name}'s admin: /slack/install → Slack's authorize page → /slack/oauth_redirect")
            print(f"    HTTP {outcome.status}; installation stored with its own bot token {_masked(token)}")
        for team, name, channel in WORKSPACES:
            print(f"\n  In {name}:")
            event: dict[str, Any] = slack.user_says(
                channel=channel, text=f"How do I run a good retro at {name}?", team_id=team
            )
            slack.reset_calls()
            say("coach", event["text"])
            slack.send_event(server.events_url, event)
            reply = slack.wait_for_replies(channel, event["ts"], timeout=30)[-1]
            say("coachbot", reply.text)
            own = {c.token for c in slack.calls if c.token} == set(slack.tokens_of(team))
            print(f"    every Slack call of that turn used {name}'s own token: {own}")
