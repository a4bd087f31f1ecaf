"""Token rotation: a rotating bot token is refreshed before it expires, for turns and for jobs.

Slack's rotating tokens last 12 hours; Bolt refreshes one (``oauth.v2.access`` with
``grant_type=refresh_token``) once it has less than two hours left. Here the emulator issues tokens
that already have less than that, so every use needs the refresh first, through SLACK_API_URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.oauth_browser import install
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.installs import ALPHA, CLIENT_ID, CLIENT_SECRET

#: Less than Bolt's two hours before expiry: due for a refresh from the start.
SHORT_LIFETIME_SECONDS = 3600


@pytest.fixture
def rotating(installable: SlackEmulator, oauth_settings: Settings) -> Iterator[BackgroundServer]:
    server = BackgroundServer(oauth_settings)
    installable.oauth_app(
        CLIENT_ID,
        CLIENT_SECRET,
        redirect_uri=f"{server.url}/slack/oauth_redirect",
        token_rotation=True,
        token_lifetime_seconds=SHORT_LIFETIME_SECONDS,
    )
    with server:
        assert install(server.url, team_id=ALPHA).status == 200
        yield server


def test_a_turn_refreshes_an_expiring_token_before_using_it(
    installable: SlackEmulator, rotating: BackgroundServer
):
    slack = installable
    (installed,) = slack.tokens_of(ALPHA)
    assert installed.startswith("xoxe.xoxb-")
    slack.reset_calls()

    converse(slack, rotating, slack.user_says(channel="D0ALPHA", text="hello", team_id=ALPHA))

    refreshes = slack.calls_to("oauth.v2.access")
    assert refreshes and refreshes[0].args.get("grant_type") == "refresh_token"
    assert refreshes[0].ok
    turn_calls = [c for c in slack.calls if c.method != "oauth.v2.access"]
    assert turn_calls and refreshes[0].at < turn_calls[0].at
    assert installed not in {c.token for c in turn_calls}
    assert all(c.ok for c in turn_calls), [(c.method, c.error) for c in turn_calls if not c.ok]

    slack.expire_token(installed)  # the old token runs out: nothing depends on it
    converse(slack, rotating, slack.user_says(channel="D0ALPHA", text="and again", team_id=ALPHA))


def test_a_job_gets_a_refreshed_client_for_the_workspace(
    installable: SlackEmulator, rotating: BackgroundServer
):
    slack = installable
    (installed,) = slack.tokens_of(ALPHA)
    installs = rotating.runtime.installs
    assert installs is not None

    client = rotating.run_coroutine(installs.client_for(ALPHA))

    assert client is not None and client.token not in (None, installed)
    answer = rotating.run_coroutine(client.auth_test())
    assert answer["team_id"] == ALPHA
