"""Per-workspace settings: a workspace's admins set them with ``/coach admin``; reports follow them.

Two workspaces installed through the install flow. Each admin picks their workspace's report
channel (and who else may use /perf); the weekly report then goes to each workspace's own channel,
with that workspace's token and its figures only. Non-admins can't change anything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.assembly.serve import BackgroundServer
from bot.operations.report import post_weekly_report
from devkit.slack_emulator import SlackEmulator
from jobs.app_jobs import weekly_report_jobs
from jobs.claims import replica_id
from jobs.database import create_jobs_engine
from tests.fixtures.app import converse
from tests.fixtures.installs import ALPHA, BRAVO
from tests.fixtures.waiting import eventually

REPORTS = {ALPHA: "C0ALPHAREPORTS", BRAVO: "C0BRAVOREPORTS"}


def coach_admin(
    slack: SlackEmulator, server: BackgroundServer, text: str, *, team: str, user: str = "U0ADMIN"
) -> Any:
    before = len(slack.response_url_posts())
    channel = f"C0{team[2:]}GEN"
    delivery = slack.send_command(
        server.events_url, "/coach", f"admin {text}".strip(), user_id=user, team_id=team, channel_id=channel
    )
    assert delivery.status == 200, delivery
    posts = eventually(lambda: slack.response_url_posts()[before:], timeout=10.0)
    assert len(posts) == 1
    return posts[0].body


def shown(answer: dict[str, Any]) -> str:
    return json.dumps(answer.get("blocks") or answer.get("text"))


def test_a_workspace_admin_sets_the_report_channel_for_their_workspace_only(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace

    answer = coach_admin(slack, server, f"report <#{REPORTS[ALPHA]}|reports>", team=ALPHA)
    assert "Saved." in shown(answer) and REPORTS[ALPHA] in shown(answer)
    assert answer["response_type"] == "ephemeral"

    bravo = coach_admin(slack, server, "", team=BRAVO)
    assert REPORTS[ALPHA] not in shown(bravo)
    assert "none (no weekly report)" in shown(bravo)


def test_a_workspace_admin_sets_when_undated_commitments_are_checked_in_on(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace

    answer = coach_admin(slack, server, "checkins 3", team=ALPHA)
    assert "Saved." in shown(answer) and "after 3 days (set here)" in shown(answer)
    assert "after 7 days (default)" in shown(coach_admin(slack, server, "", team=BRAVO))
    assert "from 1 to 60" in shown(coach_admin(slack, server, "checkins 0", team=ALPHA))


def test_only_workspace_admins_can_use_coach_admin(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    answer = coach_admin(installable, multi_workspace, f"report {REPORTS[ALPHA]}", team=ALPHA, user="U0COACH")

    assert "Only this workspace's admins and owners" in shown(answer)
    again = coach_admin(installable, multi_workspace, "", team=ALPHA)
    assert REPORTS[ALPHA] not in shown(again)


def test_a_bad_value_is_explained_and_nothing_changes(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    answer = coach_admin(installable, multi_workspace, "retention forever", team=ALPHA)

    assert "number of days" in shown(answer)
    assert "365 days after a session's last message" in shown(answer)


def test_the_weekly_report_goes_to_each_workspaces_own_channel_with_its_own_figures(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    for team in (ALPHA, BRAVO):
        coach_admin(slack, server, f"report <#{REPORTS[team]}>", team=team)
        slack.place_channel(REPORTS[team], team)
        converse(
            slack, server, slack.user_says(channel=f"D0{team[2:]}", text=f"hello from {team}", team_id=team)
        )
    slack.reset_calls()
    engine = create_jobs_engine(server.settings.database_url)

    def poster(team: str | None, channel: str):
        def post(report, chart: bytes) -> None:
            async def go() -> None:
                client = await server.runtime.workspace_clients.client_for(team)
                assert client is not None
                await post_weekly_report(client, channel, report, chart)

            server.run_coroutine(go())

        return post

    try:
        next_week = datetime.now(UTC) + timedelta(days=7)
        jobs = weekly_report_jobs(server.settings, engine, replica_id(), poster)
        assert sorted(job.team_id or "" for job in jobs) == [ALPHA, BRAVO]
        assert [job.run(next_week) for job in jobs] == ["ok", "ok"]
    finally:
        engine.dispose()

    completed = slack.calls_to("files.completeUploadExternal")
    assert len(completed) == 2 and all(call.ok for call in completed)
    by_channel = {call.args["channel_id"]: call for call in completed}
    assert set(by_channel) == set(REPORTS.values())
    for team in (ALPHA, BRAVO):
        call = by_channel[REPORTS[team]]
        assert call.token in slack.tokens_of(team)
        comment = str(call.args.get("initial_comment"))
        other = BRAVO if team == ALPHA else ALPHA
        assert team in comment and other not in comment


def perf(slack: SlackEmulator, server: BackgroundServer, *, team: str, user: str) -> Any:
    before = len(slack.response_url_posts())
    delivery = slack.send_command(
        server.events_url, "/perf", "", user_id=user, team_id=team, channel_id=f"C0{team[2:]}GEN"
    )
    assert delivery.status == 200, delivery
    posts = eventually(lambda: slack.response_url_posts()[before:], timeout=10.0)
    assert len(posts) == 1
    return posts[0].body


def test_extra_perf_admins_are_per_workspace_and_perf_shows_nothing_of_another_workspace(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    converse(slack, server, slack.user_says(channel="D0BRAVO", text="bravo private words", team_id=BRAVO))
    coach_admin(slack, server, "admins <@U0COACH>", team=ALPHA)

    alpha = perf(slack, server, team=ALPHA, user="U0COACH")
    bravo = perf(slack, server, team=BRAVO, user="U0COACH")

    assert "blocks" in alpha  # the figures
    assert "admins" in shown(bravo).lower() and "blocks" not in bravo  # refused in the other workspace
    for secret in (BRAVO, "D0BRAVO", "bravo private words", *slack.tokens_of(BRAVO)):
        assert secret not in json.dumps(alpha)


def test_the_settings_message_has_inputs_that_save_what_the_admin_picks(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    answer = coach_admin(slack, server, "", team=ALPHA)
    inputs = {
        b["accessory"]["action_id"]: b["accessory"]["type"] for b in answer["blocks"] if "accessory" in b
    }
    assert inputs == {
        "coach_admin_report": "channels_select",
        "coach_admin_admins": "multi_users_select",
        "coach_admin_retention": "static_select",
        "coach_admin_checkins": "static_select",
    }

    before = len(slack.response_url_posts())
    picked = {"type": "channels_select", "action_id": "coach_admin_report", "block_id": "report"}
    picked["selected_channel"] = REPORTS[ALPHA]
    delivery = slack.send_block_action(server.events_url, picked, team_id=ALPHA, channel_id="C0ALPHAGEN")

    assert delivery.status == 200
    posts = eventually(lambda: slack.response_url_posts()[before:], timeout=10.0)
    assert posts and posts[0].body.get("replace_original") is True
    assert "Saved." in shown(posts[0].body) and REPORTS[ALPHA] in shown(posts[0].body)
    assert REPORTS[ALPHA] not in shown(coach_admin(slack, server, "", team=BRAVO))


def test_a_non_admin_cannot_change_a_setting_through_the_inputs(
    installable: SlackEmulator, multi_workspace: BackgroundServer
):
    slack, server = installable, multi_workspace
    before = len(slack.response_url_posts())
    picked = {"type": "static_select", "action_id": "coach_admin_retention", "block_id": "retention"}
    picked["selected_option"] = {"value": "30", "text": {"type": "plain_text", "text": "30 days"}}
    slack.send_block_action(
        server.events_url, picked, user_id="U0COACH", team_id=ALPHA, channel_id="C0ALPHAGEN"
    )

    posts = eventually(lambda: slack.response_url_posts()[before:], timeout=10.0)
    assert "Only this workspace's admins" in shown(posts[0].body)
    assert "365 days after a session's last message" in shown(coach_admin(slack, server, "", team=ALPHA))
