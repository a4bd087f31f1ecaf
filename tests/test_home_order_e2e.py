"""The App Home is never overwritten by an older render, over signed HTTP through the emulator, on
SQLite and PostgreSQL: presses fired together while a publish is slow cost at most two
views.publish, the last showing them all; a Home another replica published since (same bot token,
straight to the emulator's API) makes our next publish's ``hash`` stale, so it is read afresh and
published once more without ``hash``, once only; ``app_home_opened``'s ``view.hash`` is the one
sent; and no log line at INFO or above holds a Home's text.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import create_engine, text

from bench.home_seed import HomeHistory, seed_home_coach
from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.memory.blocks import COMMITMENT_DONE_ACTION
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.databases import query
from tests.fixtures.waiting import eventually, listener_runs, wait_until_handled
from tests.home_helpers import button, mark, open_home, press_on_home, publishes, text_of

COACH = "U0COACH"
SEVERAL = HomeHistory(sessions=2, active=1, goals=1, commitments=6, files=0, other_coaches=0)
CANARY = "quokkacanary"
ELSEWHERE = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"Published elsewhere {CANARY}"}}],
}


def commitments(database_url: str, where: str = "TRUE") -> list[int]:
    return [
        row[0] for row in query(database_url, f"SELECT id FROM coach_commitments WHERE {where} ORDER BY id")
    ]


def done_buttons(view: dict[str, Any]) -> str:
    return text_of(view).count(f'"action_id": "{COMMITMENT_DONE_ACTION}"')


def another_replica(slack: SlackEmulator) -> dict[str, Any]:
    """A second replica publishes the coach's Home (the same bot token, without ``hash``)."""
    client = WebClient(base_url=slack.base_url, token=slack.bot_token, retry_handlers=[])
    return dict(client.views_publish(user_id=COACH, view=ELSEWHERE)["view"])


def sent(slack: SlackEmulator, since: int) -> list[tuple[str | None, str | None]]:
    """The app's views.publish for the coach since ``since``: (the hash it sent, Slack's error)."""
    calls = publishes(slack, COACH)[since:]
    return [(c.args.get("hash") or None, c.error) for c in calls]


def press_done(slack: SlackEmulator, server: BackgroundServer, view: dict[str, Any], commitment: int) -> None:
    press_on_home(slack, server, view, button(view, COMMITMENT_DONE_ACTION, str(commitment)), COACH)


def test_presses_fired_together_cost_at_most_two_publishes_and_the_last_shows_them_all(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    seed_home_coach(database_url, "T0DEVKIT", COACH, SEVERAL)
    view = open_home(slack_emulator, coachbot)
    ids = commitments(database_url)
    assert done_buttons(view) == len(ids) == 6
    before, handled = mark(slack_emulator, COACH), listener_runs(coachbot.url)
    slack_emulator.delay("views.publish", 1.5)  # every press lands while the first publish is out

    with ThreadPoolExecutor(len(ids)) as pool:
        list(pool.map(lambda commitment: press_done(slack_emulator, coachbot, view, commitment), ids))
    wait_until_handled(coachbot.url, handled + len(ids), timeout=30)  # each press's refresh is over

    assert query(database_url, "SELECT DISTINCT status FROM coach_commitments") == [("done",)]
    calls = sent(slack_emulator, before[0])
    assert 1 <= len(calls) <= 2, calls
    assert all(error is None for _, error in calls), calls
    assert all(sent_hash is not None for sent_hash, _ in calls), "each publish names the Home it replaces"
    final = slack_emulator.home_view(COACH) or {"blocks": []}
    assert done_buttons(final) == 0, "the last publish was read after the last press"


def test_a_home_another_replica_published_since_is_read_afresh_and_published_once_more_without_hash(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    seed_home_coach(database_url, "T0DEVKIT", COACH, SEVERAL)
    ours = open_home(slack_emulator, coachbot)
    theirs = another_replica(slack_emulator)
    first = commitments(database_url)[0]
    before, handled = mark(slack_emulator, COACH), listener_runs(coachbot.url)

    press_done(slack_emulator, coachbot, ours, first)
    wait_until_handled(coachbot.url, handled + 1)

    assert sent(slack_emulator, before[0]) == [(ours["hash"], "hash_conflict"), (None, None)]
    final = slack_emulator.home_view(COACH) or {"blocks": []}
    assert final["hash"] not in (ours["hash"], theirs["hash"])
    assert "Published elsewhere" not in text_of(final)
    assert f'"value": "{first}"' not in text_of(final), "the fresh read shows the press"
    assert done_buttons(final) == len(commitments(database_url, "status = 'open'")) == 5


def test_the_hash_app_home_opened_carries_is_the_one_sent(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    open_home(slack_emulator, coachbot)
    theirs = another_replica(slack_emulator)
    before = mark(slack_emulator, COACH)

    view = open_home(slack_emulator, coachbot)  # the event's view is the other replica's Home

    assert sent(slack_emulator, before[0]) == [(theirs["hash"], None)], "no conflict, no retry"
    assert "Published elsewhere" not in text_of(view)


def test_a_second_hash_conflict_is_not_retried_and_leaves_the_home_as_it_was(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    seed_home_coach(database_url, "T0DEVKIT", COACH, SEVERAL)
    ours = open_home(slack_emulator, coachbot)
    before, handled = mark(slack_emulator, COACH), listener_runs(coachbot.url)
    slack_emulator.fail("views.publish", error="hash_conflict", status=200, retry_after=None, times=2)

    press_done(slack_emulator, coachbot, ours, commitments(database_url)[0])
    wait_until_handled(coachbot.url, handled + 1)

    assert sent(slack_emulator, before[0]) == [(ours["hash"], "hash_conflict"), (None, "hash_conflict")]
    assert (slack_emulator.home_view(COACH) or {})["hash"] == ours["hash"]


def published_after_press(slack: SlackEmulator, commitment: int) -> dict[str, Any] | None:
    """The coach's Home once ours is back and shows ``commitment`` done."""
    view = slack.home_view(COACH)
    shown = text_of(view) if view else ""
    fresh = (
        view is not None and "Published elsewhere" not in shown and f'"value": "{commitment}"' not in shown
    )
    return view if fresh else None


def test_no_log_line_holds_a_homes_text(
    slack_emulator: SlackEmulator, settings: Settings, database_url: str, log_output: io.StringIO
) -> None:
    seed_home_coach(database_url, "T0DEVKIT", COACH, SEVERAL)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE coach_commitments SET text = text || ' {CANARY}'"))
    finally:
        engine.dispose()
    with BackgroundServer(settings) as server:
        ours = open_home(slack_emulator, server)
        assert CANARY in text_of(ours)
        another_replica(slack_emulator)
        ids = commitments(database_url)
        press_done(slack_emulator, server, ours, ids[0])  # a conflict, then a fresh publish
        assert eventually(lambda: "hash_conflict" in log_output.getvalue())
        fresh = eventually(lambda: published_after_press(slack_emulator, ids[0]))
        assert fresh is not None
        slack_emulator.fail("views.publish", error="invalid_arguments", status=200, retry_after=None)
        press_done(slack_emulator, server, fresh, ids[1])  # a publish Slack refuses
        assert eventually(lambda: "Could not publish a Home" in log_output.getvalue())

    logged = log_output.getvalue()
    assert CANARY not in logged and "Commitment 1" not in logged
