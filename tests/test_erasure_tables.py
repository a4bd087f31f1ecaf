"""Every table is either erased with a coach or says why it holds no coach's data.

The erasure finds a coach's rows from ``Base.metadata`` (storage/erasures.py); this walks the
same metadata, so a table added later that holds per-coach data fails here until the erasure
covers it (keyed by team and user, or by a parent it cannot outlive) or ``NOT_A_COACHS`` says why
it is none of theirs.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from storage.erasures import NAMED_LEDGERS, NOT_A_COACHS, erasure_conditions, uncovered_tables
from storage.memory_records import Coach
from storage.models import Base

COACH = Coach("T0TEAM", "U0COACH")


def copy_of_the_schema() -> MetaData:
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    return metadata


def test_every_table_is_erased_with_its_coach_or_says_why_it_holds_nobodys_coaching_data() -> None:
    assert uncovered_tables(Base.metadata) == [], (
        "a table holds rows the coach's erasure does not reach: give it team_id and user_id, a "
        "foreign key to a coach's table, or a reason in storage.erasures.NOT_A_COACHS"
    )
    assert set(NOT_A_COACHS) <= set(Base.metadata.tables), "an exemption names a table that is gone"


def test_the_coachs_sessions_messages_files_memory_and_check_ins_are_all_reached() -> None:
    reached = set(erasure_conditions(Base.metadata, COACH)) | set(NAMED_LEDGERS)
    for table in (
        "coaching_sessions",
        "chat_messages",
        "attachments",
        "attachment_chunks",
        "bystander_notes",
        "coach_goals",
        "coach_commitments",
        "session_summaries",
        "remembered_items",
        "coach_preferences",
        "checkins",
        "checkin_opt_outs",
        "processed_events",
        "job_runs",
    ):
        assert table in reached, table


def test_a_new_table_keyed_by_coach_or_hanging_off_a_coachs_row_is_erased_without_being_listed() -> None:
    metadata = copy_of_the_schema()
    Table(
        "coach_notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("team_id", String),
        Column("user_id", String),
    )
    Table(
        "commitment_steps",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("commitment_id", Integer, ForeignKey("coach_commitments.id", ondelete="CASCADE")),
    )

    conditions = erasure_conditions(metadata, COACH)

    assert {"coach_notes", "commitment_steps"} <= set(conditions)
    assert "coach_commitments" in str(conditions["commitment_steps"])
    assert uncovered_tables(metadata) == []


def test_a_new_table_that_reaches_no_coach_fails_until_it_says_why() -> None:
    metadata = copy_of_the_schema()
    Table("prompt_versions", metadata, Column("id", Integer, primary_key=True), Column("text", String))

    assert uncovered_tables(metadata) == ["prompt_versions"]
