"""What an export holds: every section of one coach's data in one workspace, and nobody else's.

The same user id in another workspace, and another coach in the same workspace, each have a row
in every table; the export of (T0ONE, U0COACH) has exactly its own, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.background import BackgroundCalls
from bot.delivery.streamed_upload import SharingWithdrawn
from bot.export.sections import SECTIONS
from bot.export.service import DataExport
from storage.engine import sync_url
from storage.erasures import record_erasure
from storage.memory_records import Coach
from storage.models import (
    attachments,
    bystander_notes,
    chat_messages,
    checkin_opt_outs,
    checkins,
    coach_commitments,
    coach_goals,
    coach_preferences,
    coaching_sessions,
    remembered_items,
    reply_feedback,
    session_summaries,
)

MINE = Coach("T0ONE", "U0COACH")
NOT_MINE = (Coach("T0TWO", "U0COACH"), Coach("T0ONE", "U0OTHER"))


def seed_everything(database_url: str, coach: Coach) -> None:
    """One row of every kind for ``coach``, each naming whose it is; plus a session with no messages."""
    who = f"{coach.team_id}/{coach.user_id}"
    owner = {"team_id": coach.team_id, "user_id": coach.user_id}
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as c:

            def add(table: Any, **values: Any) -> int:
                return int(c.execute(insert(table).values(**values).returning(table.c[0])).scalar_one())

            session = add(
                coaching_sessions, **owner, channel_id=f"D{who}", thread_ts="1.1", title=f"About {who}"
            )
            add(coaching_sessions, **owner, channel_id=f"D{who}", thread_ts="2.2")  # no messages yet
            for n, role in enumerate(("user", "assistant")):
                add(
                    chat_messages,
                    session_id=session,
                    message_type=role,
                    slack_ts=f"1.{n}",
                    text=f"{role} of {who}",
                )
            mine_elsewhere = add(
                coaching_sessions,
                team_id=coach.team_id,
                user_id="U0SOMEONE",
                channel_id="C0TEAM",
                thread_ts=f"9.{who}",
            )
            add(bystander_notes, session_id=mine_elsewhere, user_id=coach.user_id)
            add(session_summaries, **owner, session_id=session, status="done", summary=f"Summary of {who}")
            add(coach_goals, **owner, text=f"Goal of {who}", status="active")
            commitment = add(
                coach_commitments, **owner, text=f"Commitment of {who}", due_date=date(2026, 12, 4)
            )
            add(remembered_items, **owner, text=f"Remembered of {who}")
            add(checkins, **owner, commitment_id=commitment, round=1, channel_id=f"D{who}", message_ts="3.3")
            add(
                reply_feedback,
                **owner,
                channel_id=f"D{who}",
                message_ts="1.1",
                session_id=session,
                rating="negative",
                note=f"Note of {who}",
            )
            c.execute(insert(coach_preferences).values(**owner, memory_enabled=False))
            c.execute(insert(checkin_opt_outs).values(**owner))
            add(
                attachments,
                **owner,
                session_id=session,
                slack_file_id=f"F{who}",
                name=f"notes of {who}.txt",
                mime_type="text/plain",
                status="rejected",
                error="unsupported",
            )
    finally:
        engine.dispose()


async def test_an_export_holds_every_section_of_the_coach_in_that_workspace_and_nothing_else(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    for coach in (MINE, *NOT_MINE):
        seed_everything(database_url, coach)

    built = await DataExport(engine, background=BackgroundCalls()).build(MINE, tmp_path)

    data = json.loads(built.json_path.read_text())
    markdown = built.markdown_path.read_text()
    assert list(data) == ["export", *(section.key for section in SECTIONS)]
    assert (data["export"]["team_id"], data["export"]["user_id"]) == (MINE.team_id, MINE.user_id)
    for key in (
        "summaries",
        "goals",
        "commitments",
        "remembered",
        "checkins",
        "feedback",
        "preferences",
        "checkin_opt_outs",
    ):
        assert len(data[key]) == 1, key
    first, empty = data["sessions"]
    assert [m["text"] for m in first["messages"]] == ["user of T0ONE/U0COACH", "assistant of T0ONE/U0COACH"]
    assert empty["messages"] == []
    assert data["commitments"][0]["due_date"] == "2026-12-04"
    assert data["files"][0]["name"] == "notes of T0ONE/U0COACH.txt" and data["files"][0]["link"] is None
    for other in NOT_MINE:
        assert f"{other.team_id}/{other.user_id}" not in built.json_path.read_text() + markdown
    assert data["feedback"][0]["note"] == "Note of T0ONE/U0COACH"
    for text in ("### About T0ONE/U0COACH", "- Memory: off", "- Check-ins off since", "due 2026-12-04"):
        assert text in markdown


async def test_a_coach_with_no_data_gets_an_export_that_says_so(engine: AsyncEngine, tmp_path: Path) -> None:
    built = await DataExport(engine, background=BackgroundCalls()).build(MINE, tmp_path)

    data = json.loads(built.json_path.read_text())
    assert all(data[section.key] == [] for section in SECTIONS)
    assert "Nothing here." in built.markdown_path.read_text()
    assert built.counts.rows == 0


def record_erasure_only(database_url: str, coach: Coach) -> None:
    """A delete's first step (its erasure record), its rows not deleted yet: the moment between."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as c:
            record_erasure(c, coach, datetime.now(UTC))
    finally:
        engine.dispose()


async def test_an_export_read_while_a_delete_is_recorded_but_not_done_is_withdrawn(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    seed_everything(database_url, MINE)
    record_erasure_only(database_url, MINE)

    with pytest.raises(SharingWithdrawn):
        await DataExport(engine, background=BackgroundCalls()).build(MINE, tmp_path)


async def test_after_a_finished_delete_an_export_is_built_from_what_came_after(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    record_erasure_only(database_url, MINE)  # and nothing left: the delete is done
    seed_everything(database_url, MINE)  # then the coach starts afresh

    built = await DataExport(engine, background=BackgroundCalls()).build(MINE, tmp_path)

    assert built.erased_as_of is not None
    assert len(json.loads(built.json_path.read_text())["sessions"]) == 2
