"""`coachbot report` with OAuth installs: `--team T…` builds and posts that workspace's own report,
as the scheduled per-workspace job does: its figures only, to the channel its admins set (else
REPORT_CHANNEL_ID), with its own installation's token. Without --team, or for a workspace with no
installation, it says so and posts nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.databases import query
from tests.fixtures.installs import ALPHA, BRAVO, CLIENT_ID, CLIENT_SECRET
from tests.test_cli_report import coachbot, seed_two_days
from tests.test_installs_workspace_settings import coach_admin

ALPHA_REPORTS = "C0ALPHAREPORTS"


def oauth_env(slack: SlackEmulator, database_url: str, **more: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SLACK_BOT_TOKEN": "",
        **more,
    }


@pytest.fixture
def two_workspaces_active(installable: SlackEmulator, multi_workspace: BackgroundServer) -> SlackEmulator:
    """ALPHA and BRAVO installed, each with two sessions this week; ALPHA's admin set its channel."""
    database_url = multi_workspace.settings.database_url
    seed_two_days(database_url, ALPHA, first_id=101)
    seed_two_days(database_url, BRAVO, first_id=201)
    coach_admin(installable, multi_workspace, f"report <#{ALPHA_REPORTS}>", team=ALPHA)
    installable.place_channel(ALPHA_REPORTS, ALPHA)
    installable.reset_calls()
    return installable


def test_team_posts_that_workspaces_own_report_to_its_channel_with_its_token(
    two_workspaces_active: SlackEmulator, multi_workspace: BackgroundServer, tmp_path: Path
) -> None:
    slack, database_url = two_workspaces_active, multi_workspace.settings.database_url

    done = coachbot("--post", "--team", ALPHA, env=oauth_env(slack, database_url), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"of {ALPHA} to {ALPHA_REPORTS}" in done.stdout
    (completed,) = slack.calls_to("files.completeUploadExternal")
    assert completed.ok and completed.args["channel_id"] == ALPHA_REPORTS
    assert completed.token in slack.tokens_of(ALPHA)
    (post,) = slack.messages(ALPHA_REPORTS)
    assert f"*Workspace {ALPHA}*" in post.text and "• Messages: 4 · active coaches: 2" in post.text
    assert BRAVO not in post.text
    assert query(database_url, "SELECT job FROM job_runs") == []  # an operator's post claims nothing


def test_team_with_dry_run_prints_only_that_workspaces_figures(
    two_workspaces_active: SlackEmulator, multi_workspace: BackgroundServer, tmp_path: Path
) -> None:
    env = oauth_env(two_workspaces_active, multi_workspace.settings.database_url)

    done = coachbot("--dry-run", "--team", BRAVO, env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"*Workspace {BRAVO}*" in done.stdout and ALPHA not in done.stdout
    assert two_workspaces_active.calls == []


def test_post_without_team_in_oauth_mode_names_the_installed_workspaces_and_posts_nothing(
    two_workspaces_active: SlackEmulator, multi_workspace: BackgroundServer, tmp_path: Path
) -> None:
    env = oauth_env(two_workspaces_active, multi_workspace.settings.database_url)

    done = coachbot("--post", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert "--post needs --team" in done.stderr and f"installed: {ALPHA}, {BRAVO}" in done.stderr
    assert "Traceback" not in done.stderr
    assert two_workspaces_active.calls == []


def test_team_without_an_installation_says_so_and_posts_nothing(
    two_workspaces_active: SlackEmulator, multi_workspace: BackgroundServer, tmp_path: Path
) -> None:
    env = oauth_env(two_workspaces_active, multi_workspace.settings.database_url)

    done = coachbot("--post", "--team", "T0NOWHERE", "--channel", "C0ANY", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert "no installation in workspace T0NOWHERE, so nothing was posted" in done.stderr
    assert "Traceback" not in done.stderr
    assert two_workspaces_active.calls == []


def test_team_needs_oauth_installs(database_url: str, slack_emulator: SlackEmulator, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": slack_emulator.bot_token}

    done = coachbot("--post", "--team", ALPHA, "--channel", "C0ANY", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert "--team is for OAuth installs" in done.stderr
    assert slack_emulator.calls == []
