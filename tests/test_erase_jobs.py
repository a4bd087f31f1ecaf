"""After a coach deletes their data, a retried job finds nothing of theirs to bring back.

A check-in whose first post failed is retried by a later run, on any replica; the idle wrap-up
ends sessions nobody wrote in. Both run here as each replica's scheduler runs them, on a test
clock, after the coach confirmed the delete over signed HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.models import coach_commitments, job_runs
from tests.fixtures.app import converse
from tests.fixtures.clock import WallClock
from tests.test_erase_e2e import DM, delete_through_the_modal

COACH, TEAM = "U0COACH", "T0DEVKIT"
TEN_AM_NEW_YORK = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def clock() -> WallClock:
    return WallClock(TEN_AM_NEW_YORK)


@pytest.fixture
def coachbot(settings: Settings, clock: WallClock) -> Iterator[BackgroundServer]:
    with BackgroundServer(settings) as server:
        server.runtime.clock = clock
        yield server


def run(server: BackgroundServer, job: str) -> str:
    scheduler = server.runtime.scheduler
    assert scheduler is not None
    return scheduler.run_now(job)


def test_a_check_in_whose_post_failed_is_not_retried_once_its_coach_erased_their_data(
    settings: Settings,
    slack_emulator: SlackEmulator,
    coachbot: BackgroundServer,
    clock: WallClock,
    db: Engine,
) -> None:
    slack_emulator.add_user(COACH, "coach", tz="America/New_York")
    with db.begin() as conn:
        conn.execute(
            insert(coach_commitments).values(
                team_id=TEAM, user_id=COACH, text="Call Sam", due_date=date(2026, 12, 2), status="open"
            )
        )
    slack_emulator.fail("chat.postMessage", error="fatal_error", status=200, retry_after=None)
    assert run(coachbot, "checkins").startswith("error: 1 not sent")

    delete_through_the_modal(slack_emulator, coachbot)
    clock.advance(timedelta(minutes=20))  # past the failed post's back-off

    with contextlib.ExitStack() as stack:
        other = stack.enter_context(BackgroundServer(settings))  # any replica may retry it
        other.runtime.clock = clock
        assert run(other, "checkins") == "skipped: none due"
    assert run(coachbot, "checkins") == "skipped: none due"
    assert [m for m in slack_emulator.messages(DM) if "Call Sam" in m.text] == []
    with db.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(job_runs).where(job_runs.c.job == "checkin")
            ).scalar()
            == 0
        )


def test_the_idle_wrap_up_finds_no_session_of_an_erased_coach(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, clock: WallClock
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="My goal is focus."))
    delete_through_the_modal(slack_emulator, coachbot)
    clock.advance(timedelta(days=2))  # long idle, had it survived

    run(coachbot, "idle_wrap_up")

    assert [r for r in fake_openai.requests if "response_format" in r.body] == []
