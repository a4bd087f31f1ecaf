"""One export at a time per coach across replicas: a second ``/coach export`` on another replica
while the first is on its way is told so, and once it has arrived the next one goes out. Two
runtimes on one database (SQLite and PostgreSQL), signed commands through the emulator.

The claim is a ``job_runs`` row that lives only while an export runs; one left by a replica that
died is taken over after ``STALE_AFTER``, deleted with the coach's data, and pruned daily.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select, update

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from jobs.event_ledger import prune_ledgers
from storage.export_claims import EXPORT_JOB, STALE_AFTER, claim_export, export_claim_of
from storage.memory_records import Coach
from storage.models import job_runs, utcnow
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually
from tests.test_data_export_e2e import COACH, DM, ephemeral_texts, export_message
from tests.test_erase_e2e import delete_through_the_modal

MINE = Coach("T0DEVKIT", COACH)


def export_on(slack: SlackEmulator, server: BackgroundServer) -> None:
    assert slack.send_command(server.events_url, "/coach", "export", user_id=COACH, channel_id=DM).ok


def export_claims(db: Engine) -> int:
    with db.connect() as connection:
        statement = select(func.count()).select_from(job_runs).where(job_runs.c.job == EXPORT_JOB)
        return int(connection.execute(statement).scalar_one())


def test_a_second_export_on_another_replica_while_the_first_runs_is_told_so_then_the_next_goes_out(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings, db: Engine
) -> None:
    slack = slack_emulator
    converse(slack, coachbot, slack.user_says(channel=DM, text="Let's plan my week."))
    with BackgroundServer(settings) as second:  # another replica on the same database
        slack.delay("files.getUploadURLExternal", 2.0)  # the first export is still uploading
        export_on(slack, coachbot)
        assert eventually(lambda: any("Preparing your export" in t for t in ephemeral_texts(slack)))
        assert export_claims(db) == 1

        export_on(slack, second)

        assert eventually(lambda: any("already being prepared" in t for t in ephemeral_texts(slack)))
        export_message(slack)
        slack.clear_faults()
        assert eventually(lambda: export_claims(db) == 0)  # released once it arrived
        export_on(slack, second)
        assert eventually(lambda: len([m for m in slack.messages(DM) if m.files]) == 2, timeout=15)
    assert len(slack.calls_to("files.completeUploadExternal")) == 2


def test_a_claim_left_by_a_replica_that_died_is_taken_over_once_stale_and_pruned(db: Engine) -> None:
    now = utcnow()
    with db.connect() as connection:
        assert claim_export(connection, MINE, "replica-a", now - STALE_AFTER - timedelta(seconds=1))
        assert not claim_export(connection, MINE, "replica-b", now - timedelta(minutes=1))  # not stale yet
        assert claim_export(connection, MINE, "replica-b", now)  # stale: taken over
        assert not claim_export(connection, MINE, "replica-c", now)
        connection.execute(
            update(job_runs).where(export_claim_of(MINE)).values(claimed_at=now - STALE_AFTER * 2)
        )
        connection.commit()

    prune_ledgers(db, now=now)

    assert export_claims(db) == 0


def test_the_claim_names_nobody_in_the_clear_and_goes_with_the_coachs_data(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, db: Engine
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Let's plan my week."))
    with db.connect() as connection:
        assert claim_export(connection, MINE, "a-replica-that-died", utcnow())
        (period,) = connection.execute(select(job_runs.c.period).where(export_claim_of(MINE))).one()
    assert MINE.team_id not in period and MINE.user_id not in period

    delete_through_the_modal(slack_emulator, coachbot)

    assert export_claims(db) == 0
