"""Check-ins: a commitment due today is asked about once, by DM, in the coach's working hours.

Over real HTTP: the app's runtimes (three of them on one database where it matters) against
the Slack emulator, the check-in job run as each replica's scheduler runs it, on a test clock.
The coach is in New York (users.info ``tz``), so 14:00 UTC is 9:00 for them in winter.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.checkins.messages import ACTIONS, DONE, NOT_YET, TALK
from bot.checkins.service import GONE, NOT_YOURS
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Message, SlackEmulator
from storage.models import checkins, coach_commitments, coaching_sessions, job_runs, workspace_settings
from tests.fixtures.app import converse
from tests.fixtures.clock import WallClock
from tests.fixtures.waiting import eventually, wait_until_handled

COACH = "U0COACH"
DM = "D0COACH"  # the emulator's DM channel of U0COACH (conversations.open)
TEAM = "T0DEVKIT"
WEDNESDAY = date(2026, 12, 2)
NINE_AM_NEW_YORK = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
WORDS = "Ask Sam for feedback on the launch plan"


@pytest.fixture
def new_york_coach(slack_emulator: SlackEmulator) -> str:
    slack_emulator.add_user(COACH, "coach", tz="America/New_York")
    slack_emulator.add_user("U0OTHER", "other", tz="America/New_York")
    return COACH


@pytest.fixture
def clock() -> WallClock:
    return WallClock(NINE_AM_NEW_YORK + timedelta(hours=1))  # 10:00 in New York, a Wednesday


def start(settings: Settings, clock: WallClock, stack: contextlib.ExitStack) -> BackgroundServer:
    server = stack.enter_context(BackgroundServer(settings))
    server.runtime.clock = clock
    return server


@pytest.fixture
def coachbot(settings: Settings, clock: WallClock) -> Iterator[BackgroundServer]:
    with contextlib.ExitStack() as stack:
        yield start(settings, clock, stack)


def commit_to(
    db: Engine, words: str = WORDS, *, due: date | None = WEDNESDAY, made: datetime | None = None
) -> int:
    """A commitment as a wrap-up stores it (the memory's table), open; its id."""
    made = made or datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    with db.begin() as conn:
        return int(
            conn.execute(
                insert(coach_commitments)
                .values(
                    team_id=TEAM,
                    user_id=COACH,
                    text=words,
                    due_date=due,
                    status="open",
                    created_at=made,
                    updated_at=made,
                )
                .returning(coach_commitments.c.id)
            ).scalar_one()
        )


def run_checkins(server: BackgroundServer) -> str:
    """One run of the replica's check-in job, as its scheduler runs it; the run's outcome."""
    scheduler = server.runtime.scheduler
    assert scheduler is not None
    return scheduler.run_now("checkins")


def checkin_dms(slack: SlackEmulator) -> list[Message]:
    """The DM's messages that show check-in buttons (still unanswered)."""
    return [
        m
        for m in slack.messages(DM)
        if any(
            e.get("action_id") in ACTIONS
            for b in m.blocks or ()
            if b.get("type") == "actions"
            for e in b["elements"]
        )
    ]


def commitment_status(db: Engine, commitment_id: int) -> str:
    with db.connect() as conn:
        return str(
            conn.execute(
                select(coach_commitments.c.status).where(coach_commitments.c.id == commitment_id)
            ).scalar()
        )


def press(
    slack: SlackEmulator, server: BackgroundServer, message: Message, action_id: str, user: str = COACH
) -> None:
    delivery = slack.press_button(server.events_url, action_id=action_id, message=message, user=user)
    assert delivery.status == 200, delivery


# ------------------------------------------------------------------ once, in working hours


def test_a_commitment_due_today_gets_one_checkin_dm_in_working_hours_across_three_replicas(
    settings: Settings, slack_emulator: SlackEmulator, new_york_coach: str, clock: WallClock, db: Engine
) -> None:
    commitment = commit_to(db)
    with contextlib.ExitStack() as stack:
        replicas = [start(settings, clock, stack) for _ in range(3)]

        with ThreadPoolExecutor(3) as pool:  # every replica's job fires at the same moment
            outcomes = sorted(pool.map(run_checkins, replicas))
        again = [run_checkins(server) for server in replicas]  # and again: a retried run

    assert outcomes[0] == "ok"
    assert set(outcomes[1:]) <= {"skipped: claimed elsewhere", "skipped: none due"}  # racing, or after
    assert all(outcome == "skipped: none due" for outcome in again)
    dms = checkin_dms(slack_emulator)
    assert len(dms) == 1
    assert WORDS in dms[0].text
    assert [c.args["users"] for c in slack_emulator.calls_to("conversations.open")] == [COACH]
    buttons = [
        e["text"]["text"] for b in dms[0].blocks or [] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ["Done", "Not yet", "Let's talk"]
    with db.connect() as conn:
        assert conn.execute(select(checkins.c.commitment_id, checkins.c.round)).all() == [(commitment, 1)]
        assert conn.execute(select(job_runs.c.job, job_runs.c.period, job_runs.c.outcome)).all() == [
            ("checkin", f"{commitment}/1", "ok")
        ]


def test_a_failed_checkin_is_sent_once_by_a_later_run_on_another_replica(
    settings: Settings, slack_emulator: SlackEmulator, new_york_coach: str, clock: WallClock, db: Engine
) -> None:
    commitment = commit_to(db)
    slack_emulator.fail("chat.postMessage", error="fatal_error", status=200, retry_after=None)
    with contextlib.ExitStack() as stack:
        first, second = start(settings, clock, stack), start(settings, clock, stack)

        assert run_checkins(first) == "error: 1 not sent (0 sent); retried after 15 minutes"
        clock.advance(timedelta(minutes=5))
        assert run_checkins(second) == "skipped: claimed elsewhere"  # not before its back-off
        clock.advance(timedelta(minutes=11))
        assert run_checkins(second) == "ok"
        assert run_checkins(first) == "skipped: none due"

    assert len(checkin_dms(slack_emulator)) == 1
    with db.connect() as conn:
        assert conn.execute(select(job_runs.c.period, job_runs.c.outcome)).all() == [
            (f"{commitment}/1", "ok")
        ]


def test_outside_working_hours_nothing_is_sent_until_the_coachs_day_begins(
    coachbot: BackgroundServer,
    slack_emulator: SlackEmulator,
    new_york_coach: str,
    clock: WallClock,
    db: Engine,
) -> None:
    commit_to(db, due=date(2026, 12, 4))  # a Friday
    clock.set(datetime(2026, 12, 4, 13, 59, tzinfo=UTC))  # 8:59 in New York
    assert run_checkins(coachbot) == "skipped: none sent (1 waiting for working hours)"
    clock.set(datetime(2026, 12, 4, 22, 0, tzinfo=UTC))  # 17:00: the day is over
    assert run_checkins(coachbot) == "skipped: none sent (1 waiting for working hours)"
    clock.set(datetime(2026, 12, 5, 15, 0, tzinfo=UTC))  # Saturday 10:00
    assert run_checkins(coachbot) == "skipped: none sent (1 waiting for working hours)"
    assert checkin_dms(slack_emulator) == []

    clock.set(datetime(2026, 12, 7, 14, 0, tzinfo=UTC))  # Monday 9:00 in New York
    assert run_checkins(coachbot) == "ok"
    assert len(checkin_dms(slack_emulator)) == 1


def test_a_commitment_without_a_date_is_asked_about_checkin_days_after_it_was_made(
    coachbot: BackgroundServer,
    slack_emulator: SlackEmulator,
    new_york_coach: str,
    clock: WallClock,
    db: Engine,
) -> None:
    commit_to(db, due=None, made=datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # Thursday, 6 days before
    assert run_checkins(coachbot) == "skipped: none due"
    clock.advance(timedelta(days=1))  # Thursday 3 December, seven days on
    assert run_checkins(coachbot) == "ok"
    assert "A while ago you said you'd" in str(checkin_dms(slack_emulator)[0].blocks)


def test_a_workspace_that_set_its_own_checkin_days_is_asked_after_those(
    coachbot: BackgroundServer,
    slack_emulator: SlackEmulator,
    new_york_coach: str,
    clock: WallClock,
    db: Engine,
) -> None:
    # /coach admin checkins 3 in this workspace; CHECKIN_DAYS stays 7 for the others.
    with db.begin() as connection:
        connection.execute(insert(workspace_settings).values(team_id=TEAM, checkin_days=3))
    commit_to(db, due=None, made=datetime(2026, 11, 29, 15, 0, tzinfo=UTC))  # Sunday, 3 days before
    assert run_checkins(coachbot) == "ok"
    assert "A while ago you said you'd" in str(checkin_dms(slack_emulator)[0].blocks)


def test_with_checkins_off_none_is_sent(
    coachbot: BackgroundServer, slack_emulator: SlackEmulator, new_york_coach: str, db: Engine
) -> None:
    commit_to(db)
    answer = slack_emulator.send_command(
        coachbot.events_url, "/coach", "checkins off", user_id=COACH, channel_id=DM
    )
    assert answer.status == 200
    posts = eventually(lambda: slack_emulator.response_url_posts())
    assert posts[-1].body["response_type"] == "ephemeral"
    assert posts[-1].body["text"].startswith("Check-ins are off")

    assert run_checkins(coachbot) == "skipped: none due"
    assert slack_emulator.calls_to("conversations.open") == []

    slack_emulator.send_command(coachbot.events_url, "/coach", "checkins", user_id=COACH, channel_id=DM)
    status = eventually(lambda: slack_emulator.response_url_posts()[1:])
    assert status[-1].body["text"].startswith("Check-ins are off.")

    slack_emulator.send_command(coachbot.events_url, "/coach", "checkins on", user_id=COACH, channel_id=DM)
    eventually(lambda: len(slack_emulator.response_url_posts()) == 3)
    assert run_checkins(coachbot) == "ok"


# ------------------------------------------------------------------ the buttons


def test_the_buttons_refuse_anyone_but_the_coach(
    coachbot: BackgroundServer, slack_emulator: SlackEmulator, new_york_coach: str, db: Engine
) -> None:
    commitment = commit_to(db)
    assert run_checkins(coachbot) == "ok"
    [dm] = checkin_dms(slack_emulator)

    press(slack_emulator, coachbot, dm, DONE, user="U0OTHER")
    refusal = eventually(lambda: slack_emulator.response_url_posts())
    assert refusal[-1].body == {"response_type": "ephemeral", "replace_original": False, "text": NOT_YOURS}
    assert commitment_status(db, commitment) == "open"
    assert checkin_dms(slack_emulator) == [dm]  # the buttons are still there, unchanged
    assert slack_emulator.calls_to("chat.update") == []

    press(slack_emulator, coachbot, dm, DONE)
    assert eventually(lambda: commitment_status(db, commitment) == "done")
    updated = eventually(lambda: slack_emulator.calls_to("chat.update"))
    assert "Marked done" in updated[0].args["text"]
    assert checkin_dms(slack_emulator) == []  # answered: no buttons left


def test_not_yet_asks_again_three_days_later(
    coachbot: BackgroundServer,
    slack_emulator: SlackEmulator,
    new_york_coach: str,
    clock: WallClock,
    db: Engine,
) -> None:
    commitment = commit_to(db)
    assert run_checkins(coachbot) == "ok"
    [dm] = checkin_dms(slack_emulator)
    press(slack_emulator, coachbot, dm, NOT_YET)
    updated = eventually(lambda: slack_emulator.calls_to("chat.update"))
    assert "I'll ask again on Saturday 05 December" in updated[0].args["text"]
    assert commitment_status(db, commitment) == "open"

    clock.advance(timedelta(days=3))  # Saturday: not in working hours
    assert run_checkins(coachbot) == "skipped: none sent (1 waiting for working hours)"
    clock.advance(timedelta(days=2))  # Monday 10:00
    assert run_checkins(coachbot) == "ok"
    with db.connect() as conn:
        assert conn.execute(select(checkins.c.round, checkins.c.answer).order_by(checkins.c.round)).all() == [
            (1, "not_yet"),
            (2, None),
        ]
    assert len(slack_emulator.calls_to("users.info")) == 1  # the coach's timezone, cached


def test_lets_talk_opens_a_session_that_starts_from_the_commitment(
    coachbot: BackgroundServer,
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    new_york_coach: str,
    db: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    commit_to(db)
    assert run_checkins(coachbot) == "ok"
    [dm] = checkin_dms(slack_emulator)
    press(slack_emulator, coachbot, dm, TALK)
    wait_until_handled(coachbot.url, 1)
    opening = eventually(lambda: [m for m in slack_emulator.messages(DM) if m.text.startswith("Let's talk")])
    assert WORDS in opening[0].text and opening[0].thread_ts is None  # a new thread in the DM

    with db.connect() as conn:
        session = conn.execute(
            select(coaching_sessions.c.user_id).where(coaching_sessions.c.thread_ts == opening[0].ts)
        ).scalar()
    assert session == COACH

    event = slack_emulator.user_says(channel=DM, text="I haven't found the time.", thread_ts=opening[0].ts)
    converse(slack_emulator, coachbot, event)
    sent = fake_openai.requests[-1].body["messages"]
    assert any(WORDS in str(m["content"]) and m["role"] == "assistant" for m in sent)
    assert sent[-1] == {"role": "user", "content": "I haven't found the time."}
    assert any(r.getMessage().endswith("answered: talk") for r in caplog.records)
    assert not [r for r in caplog.records if WORDS in r.getMessage()]  # no log line holds the words


def test_after_lets_talk_the_next_round_follows_the_workspaces_own_checkin_days(
    coachbot: BackgroundServer, slack_emulator: SlackEmulator, new_york_coach: str, db: Engine
) -> None:
    with db.begin() as connection:  # /coach admin checkins 2; CHECKIN_DAYS stays 7
        connection.execute(insert(workspace_settings).values(team_id=TEAM, checkin_days=2))
    commit_to(db)
    assert run_checkins(coachbot) == "ok"
    [dm] = checkin_dms(slack_emulator)
    press(slack_emulator, coachbot, dm, TALK)

    def next_due() -> datetime | None:
        with db.connect() as conn:
            return conn.execute(select(checkins.c.next_due_at).where(checkins.c.answer == "talk")).scalar()

    due = eventually(next_due)
    pressed = NINE_AM_NEW_YORK + timedelta(hours=1)  # the test clock
    assert due.replace(tzinfo=UTC) - pressed == timedelta(days=2)


# ------------------------------------------------------------------ from a wrap-up to a check-in


def test_a_commitment_made_in_a_wrapped_up_session_is_checked_in_on_its_due_date(
    coachbot: BackgroundServer,
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    new_york_coach: str,
    clock: WallClock,
) -> None:
    words = "I'll hand the report to Sam by Friday"
    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Help me delegate."))
    fake_openai.queue_json(
        {
            "summary": "You want to delegate the weekly report.",
            "goals": ["Delegate the weekly report"],
            "commitments": [{"text": words, "due_date": "2026-12-04", "status": "open"}],
            "remember": [],
        }
    )
    before = len(slack_emulator.replies_in(DM, reply.thread_ts or ""))
    wrap = slack_emulator.user_says(channel=DM, text="That's all for now, thanks!", thread_ts=reply.thread_ts)
    assert slack_emulator.send_event(coachbot.events_url, wrap).status == 200
    slack_emulator.wait_for_replies(DM, reply.thread_ts or "", count=before + 1, timeout=15)

    assert run_checkins(coachbot) == "skipped: none due"  # Wednesday: not due yet
    clock.set(datetime(2026, 12, 4, 15, 0, tzinfo=UTC))  # Friday 10:00 in New York
    assert run_checkins(coachbot) == "ok"
    [dm] = checkin_dms(slack_emulator)
    assert words in dm.text
    assert "by Friday 04 December" in str(dm.blocks)


def test_forget_takes_the_checkins_with_the_commitments(
    coachbot: BackgroundServer, slack_emulator: SlackEmulator, new_york_coach: str, db: Engine
) -> None:
    commit_to(db)
    assert run_checkins(coachbot) == "ok"
    [dm] = checkin_dms(slack_emulator)

    slack_emulator.send_command(coachbot.events_url, "/coach", "forget", user_id=COACH, channel_id=DM)
    assert eventually(lambda: slack_emulator.response_url_posts())
    with db.connect() as conn:
        assert eventually(lambda: conn.execute(select(checkins.c.id)).all() == [])

    press(slack_emulator, coachbot, dm, DONE)
    answers = eventually(lambda: slack_emulator.response_url_posts()[1:])
    assert answers[-1].body["text"] == GONE
