"""Buttons on the App Home, over signed HTTP: memory's Done / Edit / Delete and the settings'
toggles change the presser's own rows and re-publish their Home; ``/coach settings`` shows the same
toggles ephemerally; a press by anyone but the Home's owner, or with someone else's values, is
refused politely and changes nothing. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from bench.home_seed import HomeHistory, seed_home_coach
from bot.assembly.serve import BackgroundServer
from bot.home.presses import NOT_YOUR_HOME
from bot.memory.blocks import COMMITMENT_DONE_ACTION, DELETE_ACTION, EDIT_ACTION, EDIT_BLOCK, EDIT_INPUT
from bot.memory.service import NOT_YOUR_COMMITMENT_TEXT
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.databases import query
from tests.fixtures.waiting import eventually
from tests.home_helpers import (
    DM,
    button,
    mark,
    notices,
    open_home,
    press_on_home,
    text_of,
    wait_for_publish,
)

SMALL = HomeHistory(sessions=3, active=1, goals=1, commitments=2, files=0, other_coaches=0)


def press_and_wait(
    slack: SlackEmulator, server: BackgroundServer, view: dict[str, Any], action: dict[str, Any]
) -> dict[str, Any]:
    before = mark(slack, "U0COACH")
    press_on_home(slack, server, view, action, "U0COACH")
    return wait_for_publish(slack, "U0COACH", before)


def test_done_edit_and_delete_on_the_home_change_the_coachs_memory_and_republish_it(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    seed_home_coach(database_url, "T0DEVKIT", "U0COACH", SMALL)
    view = open_home(slack_emulator, coachbot)
    first, second = (row[0] for row in query(database_url, "SELECT id FROM coach_commitments ORDER BY id"))

    view = press_and_wait(slack_emulator, coachbot, view, button(view, COMMITMENT_DONE_ACTION, str(first)))
    assert query(database_url, f"SELECT status FROM coach_commitments WHERE id = {first}") == [("done",)]
    assert f'"value": "{first}"' not in text_of(view) and f'"value": "{second}"' in text_of(view)
    assert slack_emulator.calls_to("chat.update") == [], "a press on the Home edits no message"

    press_on_home(
        slack_emulator, coachbot, view, button(view, EDIT_ACTION, f"commitment:{second}"), "U0COACH"
    )
    modal = eventually(lambda: [v for v in slack_emulator.opened_views if v.get("callback_id")])
    assert modal, "Edit opens the memory's edit modal"
    before = mark(slack_emulator, "U0COACH")
    slack_emulator.submit_view(
        coachbot.events_url, modal[-1], {EDIT_BLOCK: {EDIT_INPUT: "Hand it to Ana instead"}}
    )
    view = wait_for_publish(slack_emulator, "U0COACH", before)
    assert "Hand it to Ana instead" in text_of(view)

    view = press_and_wait(slack_emulator, coachbot, view, button(view, DELETE_ACTION, f"commitment:{second}"))
    assert query(database_url, f"SELECT count(*) FROM coach_commitments WHERE id = {second}") == [(0,)]
    assert "Hand it to Ana instead" not in text_of(view)
    assert notices(slack_emulator) == [], "nothing to refuse"


def test_the_settings_toggles_switch_the_coachs_own_checkins_and_memory(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    view = open_home(slack_emulator, coachbot)
    assert "Check-ins on your commitments: *on*" in text_of(view)

    view = press_and_wait(slack_emulator, coachbot, view, button(view, "home_checkins", "off"))
    assert query(database_url, "SELECT team_id, user_id FROM checkin_opt_outs") == [("T0DEVKIT", "U0COACH")]
    assert "Check-ins on your commitments: *off*" in text_of(view)

    view = press_and_wait(slack_emulator, coachbot, view, button(view, "home_memory", "off"))
    assert query(database_url, "SELECT memory_enabled FROM coach_preferences")[0][0] in (False, 0)
    assert "Memory is off" in text_of(view)

    view = press_and_wait(slack_emulator, coachbot, view, button(view, "home_checkins", "on"))
    assert query(database_url, "SELECT count(*) FROM checkin_opt_outs") == [(0,)]


def test_coach_settings_answers_ephemerally_with_the_same_toggles_and_a_press_there_updates_both(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    home = open_home(slack_emulator, coachbot)
    slack_emulator.send_command(coachbot.events_url, "/coach", "settings", user_id="U0COACH", channel_id=DM)
    answer = eventually(
        lambda: [p.body for p in slack_emulator.response_url_posts() if isinstance(p.body, dict)]
    )
    assert answer and answer[-1]["response_type"] == "ephemeral"
    settings = answer[-1]["blocks"]
    home_settings = [b for b in home["blocks"] if b.get("block_id") in ("home_checkins", "home_memory")]
    assert [b for b in settings if b.get("block_id") in ("home_checkins", "home_memory")] == home_settings

    before = mark(slack_emulator, "U0COACH")
    slack_emulator.press_button(
        coachbot.events_url, action_id="home_checkins", ephemeral_blocks=settings, channel=DM
    )
    replaced = eventually(
        lambda: [p.body for p in slack_emulator.response_url_posts() if p.body.get("replace_original")]
    )
    assert replaced and "Check-ins on your commitments: *off*" in json.dumps(replaced[-1]["blocks"])
    wait_for_publish(
        slack_emulator, "U0COACH", before
    )  # /coach's own refresh may come first: wait for the toggle's
    assert eventually(lambda: "*off*" in text_of(slack_emulator.home_view("U0COACH") or {"blocks": []})), (
        "the opened Home follows"
    )
    assert query(database_url, "SELECT count(*) FROM checkin_opt_outs") == [(1,)]


def test_a_press_by_anyone_but_the_homes_owner_or_with_someone_elses_values_is_refused(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    seed_home_coach(database_url, "T0DEVKIT", "U0COACH", SMALL)
    coach_home = open_home(slack_emulator, coachbot, user="U0COACH")
    other_home = open_home(slack_emulator, coachbot, user="U0ADMIN")
    (commitment,) = query(database_url, "SELECT id FROM coach_commitments ORDER BY id LIMIT 1")[0]
    done = button(coach_home, COMMITMENT_DONE_ACTION, str(commitment))

    # U0ADMIN presses on the coach's Home (a crafted payload): refused before anything is looked up.
    press_on_home(slack_emulator, coachbot, coach_home, done, "U0ADMIN")
    press_on_home(slack_emulator, coachbot, coach_home, button(coach_home, "home_checkins", "off"), "U0ADMIN")
    # On their own Home, with the coach's commitment in the value: refused by memory's own check.
    press_on_home(slack_emulator, coachbot, other_home, done, "U0ADMIN")

    refused = eventually(lambda: len(notices(slack_emulator)) >= 3 and notices(slack_emulator))
    assert refused and sum(NOT_YOUR_HOME in n for n in refused) == 2
    assert sum(NOT_YOUR_COMMITMENT_TEXT in n for n in refused) == 1
    assert query(database_url, f"SELECT status FROM coach_commitments WHERE id = {commitment}") == [("open",)]
    assert query(database_url, "SELECT count(*) FROM checkin_opt_outs") == [(0,)]
    assert "U0COACH" not in json.dumps(slack_emulator.home_view("U0ADMIN")), "nothing of the coach's leaked"


def test_a_coach_command_that_changes_a_setting_republishes_an_opened_home(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    assert "Memory across sessions: *on*" in text_of(open_home(slack_emulator, coachbot))
    before = mark(slack_emulator, "U0COACH")

    slack_emulator.send_command(coachbot.events_url, "/coach", "memory off", user_id="U0COACH", channel_id=DM)

    assert "Memory is off" in text_of(wait_for_publish(slack_emulator, "U0COACH", before))
