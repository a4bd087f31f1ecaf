"""The export is streamed: its memory does not grow with the coach's history.

A coach with 20,000 messages and one with 2,000 (each message 400 characters) are exported into
temporary files; Python's allocations (tracemalloc, every thread: aiosqlite's worker too) peak at
about the same height for both, on SQLite and PostgreSQL. Built in memory, 20,000 messages would
hold some 10 MB of text and rows at once.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.background import BackgroundCalls
from bot.export.service import DataExport
from storage.engine import sync_url
from storage.memory_records import Coach
from storage.models import chat_messages, coaching_sessions, utcnow

COACH = Coach("T0DEVKIT", "U0COACH")
TEXT = "I keep putting off the conversation with Sam about the release process. " * 6  # ~430 chars


def seed(database_url: str, coach: Coach, messages: int) -> None:
    """One session of ``messages`` messages for the coach, written in bulk."""
    engine = create_engine(sync_url(database_url))
    start = utcnow() - timedelta(days=1)
    try:
        with engine.begin() as connection:
            session_id = connection.execute(
                insert(coaching_sessions)
                .values(
                    team_id=coach.team_id,
                    user_id=coach.user_id,
                    channel_id="D" + coach.user_id,
                    thread_ts="1.0",
                )
                .returning(coaching_sessions.c.id)
            ).scalar_one()
            for first in range(0, messages, 5_000):
                connection.execute(
                    insert(chat_messages),
                    [
                        {
                            "session_id": session_id,
                            "message_type": "user" if n % 2 == 0 else "assistant",
                            "slack_ts": f"{1_700_000_000 + n}.000100",
                            "text": f"{n}: {TEXT}",
                            "timestamp": start + timedelta(seconds=n),
                        }
                        for n in range(first, min(first + 5_000, messages))
                    ],
                )
    finally:
        engine.dispose()


async def export_peak(engine: AsyncEngine, coach: Coach, directory: Path) -> tuple[int, Path]:
    """The peak of Python's allocations while the export's files are built, and the JSON file."""
    export = DataExport(engine, background=BackgroundCalls())
    tracemalloc.start()
    try:
        built = await export.build(coach, directory)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, built.json_path


async def test_exporting_20000_messages_takes_no_more_memory_than_2000(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    small, large = Coach(COACH.team_id, "U0SMALL"), COACH
    seed(database_url, small, 2_000)
    seed(database_url, large, 20_000)
    await export_peak(engine, small, tmp_path)  # first use: the statements' compiled forms are cached

    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small_peak, _ = await export_peak(engine, small, tmp_path / "small")
    large_peak, large_json = await export_peak(engine, large, tmp_path / "large")

    (session,) = json.loads(large_json.read_text())["sessions"]
    assert len(session["messages"]) == 20_000
    assert large_json.stat().st_size > 9_000_000  # ~9 MB of JSON, never in memory at once
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert large_peak < 4 * 1024 * 1024, large_peak
