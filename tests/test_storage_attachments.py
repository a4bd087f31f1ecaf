"""The attachments table and its store, on SQLite and PostgreSQL (every test runs on both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, delete, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.attachments import AttachmentStore, NewAttachment
from storage.conversations import ConversationStore, SessionKey
from storage.engine import sync_url
from storage.migrate import alembic_config, current_revision, head_revision, upgrade_database
from storage.models import AttachmentStatus, attachments, coaching_sessions, utcnow


@pytest.fixture
async def attachment_store(engine: AsyncEngine) -> AsyncIterator[AttachmentStore]:
    files = AttachmentStore(engine)
    yield files
    await files.close()


async def new_session(store: ConversationStore, thread_ts: str = "1700000000.000100") -> int:
    recorded = await store.record_user_message(
        SessionKey("T1", "D1", thread_ts),
        user_id="U1",
        slack_ts=thread_ts,
        text="hello",
        event_id=None,
        start_session=True,
    )
    assert recorded is not None
    return recorded.session_id


def shared(session_id: int, file_id: str = "F1", name: str = "notes.txt") -> NewAttachment:
    return NewAttachment(
        session_id=session_id,
        slack_file_id=file_id,
        team_id="T1",
        user_id="U1",
        name=name,
        mime_type="text/plain",
        size=12,
    )


async def attachment_count(engine: AsyncEngine, session_id: int) -> int:
    async with engine.connect() as conn:
        query = select(coaching_sessions.c.attachment_count).where(coaching_sessions.c.id == session_id)
        return (await conn.execute(query)).scalar_one()


async def test_a_new_file_is_recorded_pending_on_its_first_attempt(
    store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)

    row, created = await attachment_store.create_pending(shared(session_id))

    assert created
    assert (row.status, row.attempts, row.sha256, row.storage_key) == ("pending", 1, None, None)
    assert (row.session_id, row.slack_file_id, row.name, row.size) == (session_id, "F1", "notes.txt", 12)


async def test_the_same_slack_file_twice_gives_back_the_first_row(
    store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    first, _ = await attachment_store.create_pending(shared(session_id))

    again, created = await attachment_store.create_pending(shared(session_id, name="renamed.txt"))

    assert not created
    assert again == first


async def test_storing_records_the_object_and_counts_it_in_the_session_once(
    engine: AsyncEngine, store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    row, _ = await attachment_store.create_pending(shared(session_id))

    assert await attachment_store.mark_stored(
        row.id, size=12, sha256="ab" * 32, storage_key="T1/1/1/notes.txt"
    )
    assert not await attachment_store.mark_stored(row.id, size=12, sha256="ab" * 32, storage_key="x")

    stored = await attachment_store.get(row.id)
    assert stored is not None
    assert (stored.status, stored.size, stored.sha256, stored.storage_key, stored.error) == (
        "stored",
        12,
        "ab" * 32,
        "T1/1/1/notes.txt",
        None,
    )
    assert await attachment_count(engine, session_id) == 1


async def test_a_stored_file_is_never_turned_into_a_failed_or_rejected_one(
    store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    row, _ = await attachment_store.create_pending(shared(session_id))
    await attachment_store.mark_stored(row.id, size=12, sha256="ab" * 32, storage_key="k")

    assert not await attachment_store.mark_failed(row.id, "download_failed")
    assert not await attachment_store.mark_rejected(row.id, "too_large")

    stored = await attachment_store.get(row.id)
    assert stored is not None and stored.status == "stored"


async def test_failed_and_rejected_files_keep_their_reason_and_are_not_counted(
    engine: AsyncEngine, store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    failed, _ = await attachment_store.create_pending(shared(session_id, "F1"))
    rejected, _ = await attachment_store.create_pending(shared(session_id, "F2"))

    await attachment_store.mark_failed(failed.id, "upload_failed")
    await attachment_store.mark_rejected(rejected.id, "too_large", size=10**12)

    rows = {row.slack_file_id: row for row in await attachment_store.list_for_session(session_id)}
    assert (rows["F1"].status, rows["F1"].error) == ("failed", "upload_failed")
    assert (rows["F2"].status, rows["F2"].error, rows["F2"].size) == ("rejected", "too_large", 10**12)
    assert await attachment_count(engine, session_id) == 0


async def test_a_sessions_files_are_listed_newest_first_and_only_its_own(
    store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    other_session = await new_session(store, "1700000000.000200")
    for file_id in ("F1", "F2", "F3"):
        await attachment_store.create_pending(shared(session_id, file_id))
    await attachment_store.create_pending(shared(other_session, "F9"))

    listed = await attachment_store.list_for_session(session_id)

    assert [row.slack_file_id for row in listed] == ["F3", "F2", "F1"]


async def test_failed_files_with_attempts_left_are_offered_for_retry_with_their_thread(
    engine: AsyncEngine, store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    rows = {}
    for file_id in ("failed", "exhausted", "stored", "rejected", "pending", "stuck"):
        rows[file_id], _ = await attachment_store.create_pending(shared(session_id, file_id))
    await attachment_store.mark_failed(rows["failed"].id, "download_failed")
    await attachment_store.mark_failed(rows["exhausted"].id, "download_failed")
    await attachment_store.mark_stored(rows["stored"].id, size=1, sha256="0" * 64, storage_key="k")
    await attachment_store.mark_rejected(rows["rejected"].id, "empty")
    async with engine.begin() as conn:
        await conn.execute(
            update(attachments).where(attachments.c.id == rows["exhausted"].id).values(attempts=5)
        )
        await conn.execute(
            update(attachments)
            .where(attachments.c.id == rows["stuck"].id)
            .values(updated_at=utcnow() - timedelta(hours=2))
        )

    candidates = await attachment_store.failed_for_retry(limit=10, max_attempts=5)

    assert sorted(c.attachment.slack_file_id for c in candidates) == ["failed", "stuck"]
    assert {(c.channel_id, c.thread_ts) for c in candidates} == {("D1", "1700000000.000100")}


async def test_only_one_claim_on_a_retry_wins(
    store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    row, _ = await attachment_store.create_pending(shared(session_id))
    await attachment_store.mark_failed(row.id, "download_failed")

    assert await attachment_store.claim_retry(row.id, attempts=1)
    assert not await attachment_store.claim_retry(row.id, attempts=1)

    claimed = await attachment_store.get(row.id)
    assert claimed is not None and (claimed.status, claimed.attempts) == (AttachmentStatus.PENDING, 2)


async def test_deleting_a_session_deletes_its_attachments(
    engine: AsyncEngine, store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    row, _ = await attachment_store.create_pending(shared(session_id))

    async with engine.begin() as conn:
        await conn.execute(delete(coaching_sessions).where(coaching_sessions.c.id == session_id))

    assert await attachment_store.get(row.id) is None


async def test_storing_a_file_whose_session_was_deleted_reports_it(
    engine: AsyncEngine, store: ConversationStore, attachment_store: AttachmentStore
) -> None:
    session_id = await new_session(store)
    row, _ = await attachment_store.create_pending(shared(session_id))
    async with engine.begin() as conn:
        await conn.execute(delete(coaching_sessions).where(coaching_sessions.c.id == session_id))

    assert not await attachment_store.mark_stored(row.id, size=1, sha256="0" * 64, storage_key="k")


def test_the_attachments_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    command.downgrade(alembic_config(url=database_url), "0002")
    engine = create_engine(sync_url(database_url), poolclass=NullPool)
    try:
        inspector = inspect(engine)
        assert "attachments" not in inspector.get_table_names()
        assert "attachment_count" not in {c["name"] for c in inspector.get_columns("coaching_sessions")}
    finally:
        engine.dispose()

    upgrade_database(database_url)

    assert current_revision(database_url) == head_revision()
    engine = create_engine(sync_url(database_url), poolclass=NullPool)
    try:
        inspector = inspect(engine)
        indexes = {index["name"] for index in inspector.get_indexes("attachments")}
        assert {"idx_attachments_session_created", "idx_attachments_status_updated"} <= indexes
    finally:
        engine.dispose()


async def test_a_store_given_the_conversation_stores_sqlite_writer_shares_it_and_leaves_it_open(
    engine: AsyncEngine, store: ConversationStore
) -> None:
    shared_store = AttachmentStore(engine, sqlite_writer=store.sqlite_writer)
    session_id = await new_session(store)
    await shared_store.create_pending(shared(session_id))

    await shared_store.close()

    # The writer still belongs to the conversation store: its writes go on after the close.
    assert await new_session(store, thread_ts="1700000000.000200") != session_id
