"""The retention purge removes idle sessions with their messages, attachments and stored files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, func, insert, select

from bot.assembly.config import Settings
from jobs.app_jobs import start_app_scheduler
from jobs.retention import purge_idle_sessions
from storage.files import LocalFileStore, object_key
from storage.models import attachments, chat_messages, coaching_sessions, job_runs

NOW = datetime.now(UTC)
OLD, RECENT = 1, 2  # session ids


@pytest.fixture
async def files(tmp_path: Path) -> AsyncIterator[LocalFileStore]:
    store = LocalFileStore(tmp_path / "attachments", base_url="http://127.0.0.1:1")
    yield store
    await store.close()


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed(db: Engine, files: LocalFileStore) -> dict[int, str]:
    """An old session (idle 40 days) and a recent one, each with messages, an attachment and its file."""
    keys = {}
    for sid, idle_days in ((OLD, 40), (RECENT, 2)):
        at = NOW - timedelta(days=idle_days)
        key = object_key("T1", sid, sid, "notes.txt")
        await files.put_stream(key, one_chunk(b"private notes"), content_type="text/plain", max_bytes=1000)
        keys[sid] = key
        with db.begin() as conn:
            conn.execute(
                insert(coaching_sessions).values(
                    id=sid,
                    team_id="T1",
                    channel_id=f"D{sid}",
                    thread_ts=f"{sid}.0",
                    user_id="U1",
                    created_at=at,
                    updated_at=at,
                )
            )
            for _ in range(3):
                conn.execute(
                    insert(chat_messages).values(session_id=sid, message_type="user", text="hi", timestamp=at)
                )
            conn.execute(
                insert(attachments).values(
                    id=sid,
                    session_id=sid,
                    slack_file_id=f"F{sid}",
                    team_id="T1",
                    user_id="U1",
                    name="notes.txt",
                    mime_type="text/plain",
                    size=13,
                    status="stored",
                    storage_key=key,
                    created_at=at,
                    updated_at=at,
                )
            )
    return keys


def count(db: Engine, table, sid: int) -> int:
    column = table.c.id if table is coaching_sessions else table.c.session_id
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(column == sid)).scalar_one()


async def test_the_purge_removes_idle_sessions_with_everything_they_hold_and_keeps_recent_ones(
    db: Engine, files: LocalFileStore, database_url: str
):
    keys = await seed(db, files)
    settings = Settings(database_url=database_url, retention_days=30)
    scheduler = start_app_scheduler(SimpleNamespace(settings=settings, files=files))  # type: ignore[arg-type]
    try:
        outcome = await asyncio.to_thread(scheduler.run_now, "retention_purge")
        again = await asyncio.to_thread(scheduler.run_now, "retention_purge")
    finally:
        await scheduler.aclose()

    assert outcome == "ok"
    assert [count(db, t, OLD) for t in (coaching_sessions, chat_messages, attachments)] == [0, 0, 0]
    assert not files.path_for(keys[OLD]).exists()
    assert not files.path_for(keys[OLD]).parent.parent.exists()  # the session's folder too
    assert [count(db, t, RECENT) for t in (coaching_sessions, chat_messages, attachments)] == [1, 3, 1]
    assert files.path_for(keys[RECENT]).read_bytes() == b"private notes"
    assert again == "skipped: claimed elsewhere"  # once a day, across replicas
    with db.connect() as conn:
        assert [(r.job, r.outcome) for r in conn.execute(select(job_runs))] == [("retention_purge", "ok")]


async def test_a_file_store_failure_keeps_the_rows_for_the_next_run(db: Engine, files: LocalFileStore):
    await seed(db, files)

    def failing_delete(prefix: str) -> int:
        raise OSError("store unavailable")

    with pytest.raises(OSError):
        purge_idle_sessions(db, retention_days=30, now=NOW, delete_files=failing_delete)

    assert count(db, coaching_sessions, OLD) == 1 and count(db, chat_messages, OLD) == 3


async def test_the_purge_works_through_many_batches(db: Engine):
    at = NOW - timedelta(days=100)
    with db.begin() as conn:
        conn.execute(
            insert(coaching_sessions),
            [
                {
                    "id": sid,
                    "team_id": "T1",
                    "channel_id": "D",
                    "thread_ts": f"{sid}.0",
                    "user_id": "U1",
                    "created_at": at,
                    "updated_at": at,
                }
                for sid in range(1, 26)
            ],
        )
    prefixes: list[str] = []

    result = purge_idle_sessions(
        db, retention_days=30, now=NOW, delete_files=lambda p: prefixes.append(p) or 1, batch_size=10
    )

    assert (result.sessions, result.files) == (25, 25)
    assert prefixes[:2] == ["T1/1/", "T1/2/"]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(coaching_sessions)).scalar_one() == 0
