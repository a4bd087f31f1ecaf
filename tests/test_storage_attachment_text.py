"""Attachment chunks are found by what the coach asks, best first, within their session only."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.attachments.chunking import Chunk
from storage.attachment_text import FALLBACK_CHUNKS, AttachmentTextIndex, fts5_query, search_terms
from storage.engine import create_db_engine
from storage.migrate import upgrade_database
from storage.models import FULL_TEXT_INDEX, FULL_TEXT_TABLE, attachment_chunks, attachments, coaching_sessions
from tests.fixtures.databases import fresh_postgres_database


async def new_session(engine: AsyncEngine, thread_ts: str = "1.0") -> int:
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(coaching_sessions)
            .values(team_id="T1", channel_id="D1", thread_ts=thread_ts, user_id="U1")
            .returning(coaching_sessions.c.id)
        )
        return result.scalar_one()


async def new_attachment(engine: AsyncEngine, session_id: int, name: str) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(attachments)
            .values(
                session_id=session_id,
                slack_file_id=f"F{session_id}{name}",
                team_id="T1",
                user_id="U1",
                name=name,
                mime_type="text/plain",
                size=100,
                storage_key=f"T1/{session_id}/{name}",
                status="stored",
            )
            .returning(attachments.c.id)
        )
        return result.scalar_one()


def chunks(*texts: str) -> list[Chunk]:
    return [Chunk(i, t) for i, t in enumerate(texts)]


@pytest.fixture
def index(engine: AsyncEngine) -> AttachmentTextIndex:
    return AttachmentTextIndex(engine)


def test_search_terms_keep_plain_words_and_drop_stopwords_and_syntax() -> None:
    assert search_terms('What did "Ada" say about DELEGATING the Q3 report? NEAR(x*) OR -budget:') == [
        "ada",
        "delegating",
        "q3",
        "report",
        "near",
        "budget",
    ]


def test_the_fts5_query_quotes_every_term_and_names_the_session() -> None:
    assert fts5_query(7, ["ada", "report"]) == 'session_id : "7" AND text : ("ada" OR "report")'


async def test_the_chunk_that_matches_the_question_ranks_first(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "notes.txt")
    await index.add_chunks(
        notes,
        session,
        chunks(
            "We talked about hiring a new lead for the platform team.",
            "Ada wants to delegate the weekly budget report to Bob by March.",
            "Lunch options near the office, and the budget for the offsite.",
        ),
    )

    hits = await index.search(session, "How should Ada delegate the budget report?", limit=3)

    assert [h.ordinal for h in hits][:2] == [1, 2]
    assert hits[0].name == "notes.txt"
    assert hits[0].attachment_id == notes
    assert hits[0].score > hits[1].score > 0


async def test_words_match_across_forms_by_stemming(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "review.txt")
    await index.add_chunks(notes, session, chunks("Her delegation of reviews improved.", "Unrelated."))

    hits = await index.search(session, "is she delegating?", limit=5)

    assert [h.text for h in hits] == ["Her delegation of reviews improved."]


async def test_another_sessions_files_are_never_found(engine, index) -> None:
    mine, theirs = await new_session(engine, "1.0"), await new_session(engine, "2.0")
    await index.add_chunks(await new_attachment(engine, mine, "mine.txt"), mine, chunks("my goals for Q3"))
    await index.add_chunks(
        await new_attachment(engine, theirs, "theirs.txt"), theirs, chunks("secret salary goals")
    )

    hits = await index.search(mine, "salary goals", limit=5)

    assert [h.name for h in hits] == ["mine.txt"]


async def test_query_syntax_in_the_message_is_read_as_plain_words(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "notes.txt")
    await index.add_chunks(notes, session, chunks("The NEAR term plan.", "Budget: cut travel."))

    hits = await index.search(session, 'NEAR("budget" * :) AND ^ OR "', limit=5)

    assert {h.ordinal for h in hits} == {0, 1}


async def test_a_message_without_useful_words_gets_the_newest_files_opening(engine, index) -> None:
    session = await new_session(engine)
    older = await new_attachment(engine, session, "older.txt")
    newer = await new_attachment(engine, session, "newer.pdf")
    await index.add_chunks(older, session, chunks("old one", "old two"))
    await index.add_chunks(newer, session, chunks("new one", "new two", "new three"))

    hits = await index.search(session, "what do you think of this?", limit=2)

    assert [(h.name, h.text) for h in hits] == [("newer.pdf", "new one"), ("newer.pdf", "new two")]


async def test_a_question_nothing_matches_gets_the_newest_files_opening(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "notes.txt")
    await index.add_chunks(notes, session, chunks("first part", "second part"))

    hits = await index.search(session, "xylophone quartet", limit=1)

    assert [h.text for h in hits] == ["first part"]


async def test_a_session_without_chunks_finds_nothing(engine, index) -> None:
    session = await new_session(engine)
    assert await index.search(session, "anything at all", limit=5) == []


async def test_indexing_an_attachment_again_replaces_its_chunks(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "notes.txt")
    await index.add_chunks(notes, session, chunks("draft about budgets", "draft two"))

    assert await index.add_chunks(notes, session, chunks("final about budgets")) == 1

    assert [h.text for h in await index.search(session, "budgets", limit=5)] == ["final about budgets"]
    assert [h.text for h in await index.search(session, "draft", limit=5)] == ["final about budgets"]


async def test_deleting_an_attachment_takes_its_chunks_out_of_the_index(engine, index) -> None:
    session = await new_session(engine)
    gone = await new_attachment(engine, session, "gone.txt")
    kept = await new_attachment(engine, session, "kept.txt")
    await index.add_chunks(gone, session, chunks("budget plan gone"))
    await index.add_chunks(kept, session, chunks("budget plan kept"))

    async with engine.begin() as conn:
        await conn.execute(delete(attachments).where(attachments.c.id == gone))

    assert [h.name for h in await index.search(session, "budget plan", limit=5)] == ["kept.txt"]
    await assert_full_text_index_in_step(engine)


async def test_delete_for_session_forgets_its_chunks(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "notes.txt")
    await index.add_chunks(notes, session, chunks("one", "two"))

    assert await index.delete_for_session(session) == 2

    assert await index.search(session, "one", limit=5) == []
    await assert_full_text_index_in_step(engine)


async def test_deleting_a_session_cascades_to_its_chunks(engine, index) -> None:
    session = await new_session(engine)
    await index.add_chunks(await new_attachment(engine, session, "n.txt"), session, chunks("goals"))

    async with engine.begin() as conn:
        await conn.execute(delete(coaching_sessions).where(coaching_sessions.c.id == session))
        remaining = await conn.execute(select(func.count()).select_from(attachment_chunks))
        assert remaining.scalar_one() == 0
    await assert_full_text_index_in_step(engine)


async def assert_full_text_index_in_step(engine: AsyncEngine) -> None:
    """SQLite: the external-content FTS5 index agrees with attachment_chunks (no stale entries)."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        await conn.execute(
            text(f"INSERT INTO {FULL_TEXT_TABLE}({FULL_TEXT_TABLE}, rank) VALUES ('integrity-check', 1)")
        )


@pytest.mark.postgres
def test_without_the_btree_gin_extension_the_full_text_index_covers_the_text_alone(
    postgres_server: str,
) -> None:
    """A role that may not create extensions still migrates; searches then combine two indexes."""
    role = f"coachbot_t_role_{secrets.token_hex(4)}"
    with fresh_postgres_database() as admin_url:
        database = admin_url.rsplit("/", 1)[1]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(role)))
        try:
            upgrade_database(admin_url.replace("postgres@", f"{role}@"))

            with psycopg.connect(admin_url) as conn:
                definition = conn.execute(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (FULL_TEXT_INDEX,)
                ).fetchone()
                extension = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'").fetchone()
            assert definition is not None and "gin (tsv)" in definition[0]
            assert extension is None
        finally:
            with psycopg.connect(admin_url.replace(f"/{database}", "/postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.postgres
def test_with_btree_gin_the_full_text_index_leads_with_the_session(postgresql_database_url: str) -> None:
    with psycopg.connect(postgresql_database_url) as conn:
        definition = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (FULL_TEXT_INDEX,)
        ).fetchone()
    assert definition is not None and "gin (session_id, tsv)" in definition[0]


async def test_the_fallback_is_only_the_first_few_chunks(engine, index) -> None:
    session = await new_session(engine)
    notes = await new_attachment(engine, session, "long.txt")
    await index.add_chunks(notes, session, chunks(*(f"part {i}" for i in range(20))))

    hits = await index.search(session, "xylophone", limit=20)

    assert [h.ordinal for h in hits] == list(range(FALLBACK_CHUNKS))


@pytest.mark.postgres
async def test_postgresql_merges_new_chunks_into_the_index_at_once(postgresql_database_url: str) -> None:
    """Searches never scan GIN's pending list: indexing a file leaves nothing pending."""
    engine = create_db_engine(postgresql_database_url)
    try:
        session = await new_session(engine)
        await AttachmentTextIndex(engine).add_chunks(
            await new_attachment(engine, session, "n.txt"), session, chunks("goals", "budget", "hiring")
        )
        async with engine.connect() as conn:
            pending_pages = await conn.execute(
                text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": FULL_TEXT_INDEX}
            )
            assert pending_pages.scalar_one() == 0
    finally:
        await engine.dispose()
