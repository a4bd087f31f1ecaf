"""The two deployment modes' settings: one bot token, or OAuth installs with a client id."""

from __future__ import annotations

from bot.assembly.config import Settings
from bot.installs.oauth import authorize_url
from bot.installs.scopes import BOT_SCOPES


def test_a_bot_token_and_no_client_id_is_the_single_workspace_mode():
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})

    assert not settings.oauth_installs
    assert settings.missing_for_serving() == []


def test_a_client_id_turns_on_oauth_installs_and_needs_its_secret_not_a_bot_token():
    settings = Settings.from_env({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"})

    assert settings.oauth_installs
    assert settings.missing_for_serving() == ["SLACK_CLIENT_SECRET"]
    assert settings.uninstall_retention_days == 30
    assert settings.slack_scopes == ()  # the manifest's, BOT_SCOPES


def test_oauth_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "SLACK_CLIENT_ID": "1.2",
            "SLACK_CLIENT_SECRET": "secret",
            "SLACK_SCOPES": "chat:write, commands",
            "SLACK_REDIRECT_URI": "https://coach.example.com/slack/oauth_redirect",
            "UNINSTALL_RETENTION_DAYS": "7",
        }
    )

    assert settings.slack_scopes == ("chat:write", "commands")
    assert settings.slack_redirect_uri == "https://coach.example.com/slack/oauth_redirect"
    assert settings.uninstall_retention_days == 7
    assert settings.missing_for_serving() == ["SLACK_SIGNING_SECRET"]


def test_the_authorize_page_is_beside_slack_api_url():
    assert authorize_url("https://slack.com/api/") == "https://slack.com/oauth/v2/authorize"
    assert authorize_url("http://127.0.0.1:4000/api/") == "http://127.0.0.1:4000/oauth/v2/authorize"


def test_the_default_scopes_include_what_every_turn_needs():
    assert {"chat:write", "commands", "users:read", "files:read"} <= set(BOT_SCOPES)
