"""The export is streamed: its memory does not grow with the coach's history.

A coach with 20,000 messages and one with 2,000 (each message 400 characters) are exported into
temporary files and uploaded to their DM in the emulator; Python's allocations (tracemalloc,
every thread: aiosqlite's worker and the emulator's server too) peak at about the same height
for both, on SQLite and PostgreSQL. Built in memory, 20,000 messages would hold some 10 MB of
text and rows at once; uploaded with slack_sdk's files_upload_v2 (which reads each file whole)
the same export peaked at 40 MB, and 100,000 messages at 216 MB.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.background import BackgroundCalls
from bot.export.service import DataExport
from devkit.slack_emulator import SlackEmulator
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


async def delivery_peak(export: DataExport, coach: Coach, client: AsyncWebClient) -> int:
    """The peak of Python's allocations while the export is built and uploaded to the coach's DM."""
    tracemalloc.start()
    try:
        await export.deliver(coach, client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


async def test_exporting_and_uploading_20000_messages_takes_no_more_memory_than_2000(
    engine: AsyncEngine, database_url: str, slack_emulator: SlackEmulator
) -> None:
    slack = slack_emulator
    small, large = Coach(COACH.team_id, "U0SMALL"), COACH
    slack.add_user(small.user_id)
    seed(database_url, small, 2_000)
    seed(database_url, large, 20_000)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    export = DataExport(engine, background=BackgroundCalls())
    await export.deliver(small, client)  # first use: compiled statements cached, the session opened

    small_peak = await delivery_peak(export, small, client)
    large_peak = await delivery_peak(export, large, client)

    (message,) = [m for m in slack.messages(slack.dm_channel_of(large.user_id)) if m.files]
    json_file, markdown_file = message.files or []
    assert json_file["size"] > 9_000_000 and markdown_file["size"] > 7_000_000  # never in memory at once
    (session,) = json.loads(slack.file_bytes(json_file["id"]))["sessions"]
    assert len(session["messages"]) == 20_000
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert large_peak < 4 * 1024 * 1024, large_peak
