"""The searchable text of a session's attachments: chunks under a full-text index.

SQLite ranks with FTS5's bm25 (revision 0004's ``attachment_chunks_fts``), PostgreSQL with
``ts_rank`` over the generated ``tsv`` column and its GIN index. Either way the coach's words are
never passed to the database as query syntax: they are cut down to plain word tokens and joined
with OR here. OR, not AND: a coach's question ("what did Ada's review say about delegation?")
holds words the file does not, and the ranking already puts chunks matching more of them first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import reads_without_transaction
from storage.models import FULL_TEXT_INDEX, FULL_TEXT_TABLE, attachment_chunks

logger = logging.getLogger(__name__)

#: At most this many words of the coach's message go into a search.
MAX_TERMS = 24
#: Without a match, this many opening chunks of the newest file (~1,200 tokens): enough for "what do
#: you think of this?", little spent on a question that is simply not about the files.
FALLBACK_CHUNKS = 4
_WORD = re.compile(r"[^\W_]+")
#: Words that would match nearly every chunk; dropping them keeps the OR-query selective.
_STOPWORD_TEXT = """
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves let lets tell say said please thanks thank ok okay hi
hello hey http https www com file files attached attachment doc document pdf txt
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class ChunkLike(Protocol):
    """A piece of a file's text (``bot.attachments.chunking.Chunk``)."""

    @property
    def ordinal(self) -> int: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class ChunkHit:
    """A chunk found for a query, with the name of the file it came from (best first)."""

    attachment_id: int
    name: str
    ordinal: int
    text: str
    score: float


def search_terms(query: str, *, max_terms: int = MAX_TERMS) -> list[str]:
    """The useful words of ``query``: lower-cased letters and digits only, no stopwords, unique."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower()):
        if (len(word) > 1 or word.isdigit()) and word not in STOPWORDS and word not in terms:
            terms.append(word)
            if len(terms) == max_terms:
                break
    return terms


def fts5_query(session_id: int, terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: this session's chunks containing any of ``terms``.

    Every term is a quoted string of letters and digits, so nothing the coach typed is read as
    FTS5 syntax (NEAR, column filters, prefix stars, unbalanced quotes…).
    """
    words = " OR ".join(f'"{term}"' for term in terms)
    return f'session_id : "{int(session_id)}" AND text : ({words})'


def tsquery_text(terms: Sequence[str]) -> str:
    """A ``to_tsquery`` input: the terms OR-ed (letters and digits only, so no operators inside)."""
    return " | ".join(terms)


class AttachmentTextIndex:
    """Stores attachment chunks and finds the ones that answer a coach's message."""

    def __init__(self, engine: AsyncEngine) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {dialect!r}")
        self._engine = engine
        self._dialect = dialect
        self._reader = reads_without_transaction(engine)
        c = attachment_chunks
        self._delete_attachment = delete(c).where(c.c.attachment_id == bindparam("b_attachment_id"))
        self._delete_session = delete(c).where(c.c.session_id == bindparam("b_session_id"))
        self._insert = insert(c)
        if dialect == "sqlite":
            self._search = text(
                "SELECT c.attachment_id, a.name, c.ordinal, c.text, "
                f"bm25({FULL_TEXT_TABLE}, 1.0, 0.0) AS score "
                f"FROM {FULL_TEXT_TABLE} JOIN attachment_chunks AS c ON c.id = {FULL_TEXT_TABLE}.rowid "
                "JOIN attachments AS a ON a.id = c.attachment_id "
                f"WHERE {FULL_TEXT_TABLE} MATCH :query AND c.session_id = :session_id "
                "ORDER BY score, c.attachment_id DESC, c.ordinal LIMIT :limit"
            )
        else:
            self._search = text(
                "SELECT c.attachment_id, a.name, c.ordinal, c.text, ts_rank(c.tsv, q.query) AS score "
                "FROM to_tsquery('english', :query) AS q(query), attachment_chunks AS c "
                "JOIN attachments AS a ON a.id = c.attachment_id "
                "WHERE c.session_id = :session_id AND c.tsv @@ q.query "
                "ORDER BY score DESC, c.attachment_id DESC, c.ordinal LIMIT :limit"
            )
        # PostgreSQL: new chunks wait in the GIN index's pending list, which every search would scan
        # until autovacuum merges it. Merging right after a file is indexed keeps searches on the
        # index proper; bulk-inserting then merging is ~3x faster than fastupdate=off (bench/).
        self._merge_pending: Any = (
            text("SELECT gin_clean_pending_list(CAST(:index AS regclass))")
            if dialect == "postgresql"
            else None
        )
        # The fallback: the opening chunks of the session's newest indexed file.
        self._newest_file = text(
            "SELECT c.attachment_id, a.name, c.ordinal, c.text, 0.0 AS score "
            "FROM attachment_chunks AS c JOIN attachments AS a ON a.id = c.attachment_id "
            "WHERE c.session_id = :session_id AND c.attachment_id = "
            "(SELECT max(attachment_id) FROM attachment_chunks WHERE session_id = :session_id) "
            "ORDER BY c.ordinal LIMIT :limit"
        )

    async def add_chunks(self, attachment_id: int, session_id: int, chunks: Sequence[ChunkLike]) -> int:
        """Store an attachment's chunks in one transaction, replacing any it had; returns how many."""
        rows = [
            {"attachment_id": attachment_id, "session_id": session_id, "ordinal": c.ordinal, "text": c.text}
            for c in chunks
        ]
        async with self._engine.begin() as conn:
            await conn.run_sync(self._replace, attachment_id=attachment_id, rows=rows)
        if rows and self._merge_pending is not None:
            await self._merge_pending_list()
        return len(rows)

    async def _merge_pending_list(self) -> None:
        try:
            async with self._reader.connect() as conn:
                await conn.execute(self._merge_pending, {"index": FULL_TEXT_INDEX})
        except DBAPIError as error:  # only the index's owner may merge: leave it to autovacuum
            logger.info("Full-text pending list left to autovacuum (%s)", type(error).__name__)
            self._merge_pending = None

    def _replace(self, conn: Connection, *, attachment_id: int, rows: list[dict[str, Any]]) -> None:
        conn.execute(self._delete_attachment, {"b_attachment_id": attachment_id})
        if rows:
            conn.execute(self._insert, rows)

    async def search(self, session_id: int, query: str, limit: int) -> list[ChunkHit]:
        """The session's chunks that best match ``query``, best first.

        When the query has no useful words, or nothing matches, the opening chunks of the
        session's newest file come back instead: "what do you think of this?" right after an
        upload is about that file.
        """
        if limit <= 0:
            return []
        terms = search_terms(query)
        async with self._reader.connect() as conn:
            if terms:
                words = fts5_query(session_id, terms) if self._dialect == "sqlite" else tsquery_text(terms)
                result = await conn.execute(
                    self._search, {"query": words, "session_id": session_id, "limit": limit}
                )
                hits = [_hit(row) for row in result]
                if hits:
                    return hits
            result = await conn.execute(
                self._newest_file, {"session_id": session_id, "limit": min(limit, FALLBACK_CHUNKS)}
            )
            return [_hit(row) for row in result]

    async def delete_for_session(self, session_id: int) -> int:
        """Forget a session's chunks (its attachments' rows cascade anyway); returns how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(self._delete_session, {"b_session_id": session_id})
        return result.rowcount


def _hit(row: Any) -> ChunkHit:
    # bm25 is "lower is better" (negative); report every score as "higher is better".
    score = float(row.score or 0.0)
    return ChunkHit(
        attachment_id=row.attachment_id,
        name=row.name,
        ordinal=row.ordinal,
        text=row.text,
        score=-score if score < 0 else score,
    )
