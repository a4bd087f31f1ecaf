"""The coach's App Home, end to end: a signed ``app_home_opened`` (tab "home") into the real app,
one views.publish received by the emulator, on SQLite and PostgreSQL.

The Home shows the coach's own sessions (links to their threads), goals and commitments with
memory's buttons, files with fresh links, settings, their data's buttons and, for admins only,
the workspace settings; it stays within Slack's 100 blocks for a coach with 500 sessions, and is
re-published when a session starts or ends.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import create_engine, text

from bench.home_seed import HomeHistory, seed_home_coach
from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.memory.blocks import COMMITMENT_DONE_ACTION, DELETE_ACTION, EDIT_ACTION
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.app import converse
from tests.fixtures.databases import query
from tests.fixtures.installs import ALPHA
from tests.fixtures.waiting import eventually
from tests.home_helpers import DM, mark, open_home, publishes, text_of, wait_for_publish

WRAP_UP = {
    "summary": "You want to delegate the weekly report so you can focus on hiring.",
    "goals": ["Delegate the weekly report"],
    "commitments": [
        {"text": "I'll hand the report to Sam by Friday", "due_date": "2026-12-04", "status": "open"}
    ],
    "remember": [],
}


def test_opening_the_home_tab_publishes_the_coachs_sessions_memory_settings_and_data_buttons(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    first = converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="My goal is to delegate.")
    )
    fake_openai.queue_json(WRAP_UP)
    slack_emulator.send_command(coachbot.events_url, "/coach", "wrap", user_id="U0COACH", channel_id=DM)
    slack_emulator.wait_for_replies(DM, first.thread_ts or "", count=2, timeout=15)
    second = converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Now about hiring.")
    )
    slack_emulator.reset_calls()

    view = open_home(slack_emulator, coachbot)

    assert len(publishes(slack_emulator)) == 1, "one views.publish per open"
    assert view["type"] == "home" and view["private_metadata"] == "T0DEVKIT:U0COACH"
    shown = text_of(view)
    # Active first (the newer session), then the wrapped-up one; each a link to its thread.
    active_link = f"https://devkit.slack.com/archives/{DM}/p{(second.thread_ts or '').replace('.', '')}"
    recent_link = f"https://devkit.slack.com/archives/{DM}/p{(first.thread_ts or '').replace('.', '')}"
    assert active_link in shown and recent_link in shown
    assert (
        shown.index("*Active* (1)")
        < shown.index(active_link)
        < shown.index("*Recent* (1)")
        < shown.index(recent_link)
    )
    assert "Delegate the weekly report" in shown and "hand the report to Sam" in shown
    (commitment_id,) = query(database_url, "SELECT id FROM coach_commitments")[0]
    for action_id in (COMMITMENT_DONE_ACTION, EDIT_ACTION, DELETE_ACTION):
        assert f'"action_id": "{action_id}"' in shown
    assert f'"value": "{commitment_id}"' in shown
    assert "home_checkins" in shown and "home_memory" in shown and "Working hours" in shown
    assert "coach_data_export" in shown and "coach_data_delete" in shown
    assert "Workspace settings" not in shown, "a coach who is no admin sees no admin section"
    assert not [c for c in slack_emulator.calls if c.method.startswith("conversations.")], (
        "no Slack call per session"
    )


def test_a_coach_with_500_sessions_gets_capped_lists_within_slacks_100_blocks_with_fresh_file_links(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    history = HomeHistory(sessions=500, active=40, goals=12, commitments=25, files=30)
    seed_home_coach(database_url, "T0DEVKIT", "U0COACH", history)

    view = open_home(slack_emulator, coachbot)

    assert len(view["blocks"]) <= 100
    shown = text_of(view)
    assert "*Active* (40)" in shown and "and 30 more active sessions" in shown
    assert "*Recent* (460)" in shown and "and 455 more earlier sessions" in shown
    assert shown.index("Session 1:") < shown.index("Session 2:"), "newest first"
    assert "and more: `/coach memory` lists them" in shown
    links = [b["text"]["text"] for b in view["blocks"] if str(b.get("block_id", "")).startswith("home_file_")]
    assert len(links) == 8 and "notes-1.txt" in links[0], "the newest files, each with a link"
    assert all("/files/" in link and "expires=" in link and "sig=" in link for link in links)
    assert "U0OTHER" not in shown, "only the coach's own rows"


def test_the_admin_section_shows_only_to_workspace_admins(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    coach_view = open_home(slack_emulator, coachbot, user="U0COACH")
    admin_view = open_home(slack_emulator, coachbot, user="U0ADMIN")

    assert "Workspace settings" not in text_of(coach_view)
    shown = text_of(admin_view)
    assert "Workspace settings (admins)" in shown and "Sessions kept" in shown and "RETENTION_DAYS" in shown


def test_with_oauth_installs_a_workspace_admin_sees_their_workspaces_own_settings_and_where_to_change_them(
    installable: SlackEmulator, multi_workspace: BackgroundServer
) -> None:
    installable.send_command(
        multi_workspace.events_url,
        "/coach",
        "admin retention 90",
        user_id="U0ADMIN",
        team_id=ALPHA,
        channel_id="C0ALPHAGEN",
    )
    assert eventually(lambda: any("Saved." in str(p.body) for p in installable.response_url_posts()))

    admin = text_of(open_home(installable, multi_workspace, user="U0ADMIN", team_id=ALPHA))
    coach = text_of(open_home(installable, multi_workspace, user="U0COACH", team_id=ALPHA))

    assert (
        "Workspace settings (admins)" in admin
        and "90 days after a session's last message (set here)" in admin
    )
    assert "`/coach admin`" in admin
    assert "Workspace settings" not in coach


def test_an_opened_home_is_republished_when_a_session_starts_and_when_it_is_wrapped_up(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    assert "No sessions yet" in text_of(open_home(slack_emulator, coachbot))
    before = mark(slack_emulator, "U0COACH")

    reply = converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Help me plan my week.")
    )
    started = wait_for_publish(slack_emulator, "U0COACH", before)
    assert "*Active* (1)" in text_of(started)

    before = mark(slack_emulator, "U0COACH")
    fake_openai.queue_json(WRAP_UP)
    slack_emulator.send_command(coachbot.events_url, "/coach", "wrap", user_id="U0COACH", channel_id=DM)
    slack_emulator.wait_for_replies(DM, reply.thread_ts or "", count=2, timeout=15)
    wrapped = wait_for_publish(slack_emulator, "U0COACH", before)
    assert "*Recent* (1)" in text_of(wrapped) and "hand the report to Sam" in text_of(wrapped)


def test_coach_wrap_republishes_an_opened_home_once_after_its_answer(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Help me plan my week."))
    open_home(slack_emulator, coachbot)
    slack_emulator.reset_calls()

    fake_openai.queue_json(WRAP_UP)
    slack_emulator.send_command(coachbot.events_url, "/coach", "wrap", user_id="U0COACH", channel_id=DM)

    (answer,) = eventually(lambda: slack_emulator.response_url_posts())
    assert answer.body["text"].startswith("Wrapped up.")
    # The wrap-up's own hook asked for a refresh, and so does every /coach subcommand: one publish,
    # after the answer (a second would have come before it).
    after = eventually(lambda: [c for c in publishes(slack_emulator) if c.at > answer.at])
    assert len(publishes(slack_emulator)) == len(after) == 1
    assert "*Recent* (1)" in text_of(slack_emulator.home_view("U0COACH") or {"blocks": []})


def test_a_coach_who_never_opened_their_home_costs_no_views_publish(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    opened = coachbot.runtime.caches.get("home_opened")
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Help me plan my week."))

    assert eventually(lambda: opened.misses >= 1), "the new session asked whether the coach has a Home open"
    assert publishes(slack_emulator) == []


def test_without_memory_the_home_offers_no_memory_buttons_or_toggle(
    slack_emulator: SlackEmulator, settings: Settings, database_url: str
) -> None:
    seed_home_coach(
        database_url,
        "T0DEVKIT",
        "U0COACH",
        HomeHistory(sessions=2, active=1, goals=1, commitments=1, files=0),
    )
    with BackgroundServer(replace(settings, memory_enabled=False)) as server:
        shown = text_of(open_home(slack_emulator, server))

    assert "runs without memory" in shown and "Memory: *off* for this whole deployment" in shown
    assert COMMITMENT_DONE_ACTION not in shown and "home_memory" not in shown and "home_checkins" in shown


def test_a_home_that_cannot_be_read_says_so_in_a_line(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE coaching_sessions RENAME TO coaching_sessions_away"))
    finally:
        engine.dispose()

    shown = text_of(open_home(slack_emulator, coachbot))

    assert "couldn't load your Home just now" in shown
