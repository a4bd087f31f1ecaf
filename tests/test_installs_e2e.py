"""OAuth installs: two workspaces install coachbot through Slack's flow and are coached apart.

Over real HTTP: the install page, the emulator's authorize page and ``oauth.v2.access``, signed
events into /slack/events, the app's Slack calls into the emulator (which accepts each token in
its own workspace only).
"""

from __future__ import annotations

from bot.assembly.serve import BackgroundServer
from devkit.oauth_browser import install
from devkit.slack_emulator import SlackEmulator
from storage.turn_records import SessionKey
from tests.fixtures.app import converse
from tests.fixtures.installs import ALPHA, BRAVO, CLIENT_ID, CLIENT_SECRET

ALPHA_DM, BRAVO_DM = "D0ALPHA", "D0BRAVO"


def test_each_installed_workspace_is_coached_with_its_own_token(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    (alpha_token,), (bravo_token,) = slack.tokens_of(ALPHA), slack.tokens_of(BRAVO)
    assert alpha_token != bravo_token

    for team, channel, token in ((ALPHA, ALPHA_DM, alpha_token), (BRAVO, BRAVO_DM, bravo_token)):
        slack.reset_calls()
        event = slack.user_says(channel=channel, text=f"I lead a team at {team}", team_id=team)
        reply = converse(slack, server, event)

        assert reply.text
        calls = slack.calls
        assert calls, "the turn made Slack calls"
        assert {call.token for call in calls} == {token}
        assert all(call.ok for call in calls), [(c.method, c.error) for c in calls if not c.ok]


def test_a_workspace_sees_none_of_another_workspaces_sessions(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    alpha = converse(
        slack, server, slack.user_says(channel=ALPHA_DM, text="alpha secret plan", team_id=ALPHA)
    )
    bravo_event = slack.user_says(channel=BRAVO_DM, text="what did I tell you?", team_id=BRAVO)
    converse(slack, server, bravo_event)

    async def sessions() -> dict[str, list[str]]:
        store = server.runtime.store
        found = {}
        for team, channel, ts in ((ALPHA, ALPHA_DM, alpha.thread_ts), (BRAVO, BRAVO_DM, bravo_event["ts"])):
            session_id = await store.find_session_id(SessionKey(team, channel, ts))
            history = await store.load_history(session_id) if session_id is not None else []
            found[team] = [m.text for m in history]
        return found

    texts = server.run_coroutine(sessions())
    assert any("alpha secret plan" in t for t in texts[ALPHA])
    assert not any("alpha secret plan" in t for t in texts[BRAVO])


def test_the_install_page_sends_the_admin_to_slack_through_slack_api_url(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    outcome = install(multi_workspace.url, team_id=ALPHA)  # a second install of the same workspace

    assert outcome.status == 200
    calls = installable.calls_to("oauth.v2.access")
    assert calls and all(call.ok for call in calls)
    assert len(installable.tokens_of(ALPHA)) == 2


def test_an_enterprise_grid_org_wide_install_coaches_in_every_workspace_of_the_org(
    installable: SlackEmulator, oauth_settings
):
    slack = installable
    slack.add_installable_workspace("T0GRIDA", "Grid A", enterprise_id="E0GRID", org_wide=True)
    slack.add_team_to_enterprise("T0GRIDB", "E0GRID")
    server = BackgroundServer(oauth_settings)
    slack.oauth_app(CLIENT_ID, CLIENT_SECRET, redirect_uri=f"{server.url}/slack/oauth_redirect")
    with server:
        assert install(server.url, team_id="T0GRIDA").status == 200
        (org_token,) = slack.tokens_of("T0GRIDA")

        for team in ("T0GRIDA", "T0GRIDB"):  # keyed by enterprise: one install, both workspaces
            slack.reset_calls()
            event = slack.user_says(channel=f"D0{team}", text="hello from the org", team_id=team)
            assert converse(slack, server, event).text
            assert {call.token for call in slack.calls} == {org_token}

        installs = server.runtime.installs
        assert installs is not None
        assert server.run_coroutine(installs.client_for("T0GRIDB", "E0GRID")) is not None


def test_a_workspaces_token_is_checked_with_slack_once_not_on_every_event(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    first = converse(slack, server, slack.user_says(channel=ALPHA_DM, text="first", team_id=ALPHA))
    slack.reset_calls()

    follow_up = slack.user_says(channel=ALPHA_DM, text="second", thread_ts=first.thread_ts, team_id=ALPHA)
    converse(slack, server, follow_up)

    assert slack.calls_to("auth.test") == []
