"""attachment text chunks under a full-text index

``attachment_chunks`` (an attachment's text in search-sized pieces) and its full-text index, which
is dialect-specific DDL:

- SQLite: an FTS5 table with external content (the text is stored once, in attachment_chunks),
  porter stemming over unicode61, kept in step by triggers. It also indexes ``session_id``, so a
  search intersects the session's posting list inside FTS5 instead of filtering every match.
- PostgreSQL: a generated, stored ``tsv = to_tsvector('english', text)`` column with a GIN index
  on ``(session_id, tsv)`` through the btree_gin extension (trusted since PostgreSQL 13), so a
  search reads only the session's matching entries: a question with no match costs ~0.1 ms instead
  of filtering every chunk of the session (bench figures in the README). Where the extension
  cannot be created, the index is on ``tsv`` alone and the planner combines it with the session
  index. New chunks land in GIN's pending list (fast inserts); ``AttachmentTextIndex`` merges it
  right after indexing a file, so searches never scan unmerged entries.

Like 0002 and 0003, each step runs only when its object is missing: SQLite commits DDL as it goes,
and a database created straight from the models has the table but not the full-text index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 00:00:04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: later model changes must not alter this revision.
TABLE = "attachment_chunks"
SESSION_INDEX = "idx_attachment_chunks_session"
FTS_TABLE = "attachment_chunks_fts"
TSV_COLUMN = "tsv"
TSV_INDEX = "idx_attachment_chunks_tsv"
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    f"text, session_id, content='{TABLE}', content_rowid='id', tokenize='porter unicode61')"
)
_SQLITE_TRIGGERS = {
    "attachment_chunks_fts_insert": (
        f"AFTER INSERT ON {TABLE} BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, text, session_id) VALUES (new.id, new.text, new.session_id); END"
    ),
    "attachment_chunks_fts_delete": (
        f"AFTER DELETE ON {TABLE} BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text, session_id) "
        "VALUES ('delete', old.id, old.text, old.session_id); END"
    ),
    "attachment_chunks_fts_update": (
        f"AFTER UPDATE ON {TABLE} BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text, session_id) "
        "VALUES ('delete', old.id, old.text, old.session_id); "
        f"INSERT INTO {FTS_TABLE}(rowid, text, session_id) VALUES (new.id, new.text, new.session_id); END"
    ),
}


def _dialect() -> str:
    return context.get_context().dialect.name


def _inspector() -> sa.Inspector | None:
    """The live schema, or None when writing an SQL script (offline: assume nothing exists)."""
    return None if context.is_offline_mode() else sa.inspect(op.get_bind())


def _has_table(inspector: sa.Inspector | None, table: str) -> bool:
    return inspector is not None and inspector.has_table(table)


def _has_column(inspector: sa.Inspector | None, table: str, column: str) -> bool:
    return inspector is not None and column in {c["name"] for c in inspector.get_columns(table)}


def _has_index(inspector: sa.Inspector | None, table: str, index: str) -> bool:
    if inspector is None or not inspector.has_table(table):
        return False
    return index in {i["name"] for i in inspector.get_indexes(table)}


def _btree_gin_available() -> bool:
    """Create btree_gin if it is missing; False when this role may not (the plain GIN index then)."""
    if context.is_offline_mode():
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        return True
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'")).first():
        return True
    try:
        with bind.begin_nested():  # a savepoint: a refusal must not abort the migration's transaction
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gin"))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    inspector = _inspector()
    if not _has_table(inspector, TABLE):
        op.create_table(
            TABLE,
            sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
            sa.Column("attachment_id", _BIG_ID, nullable=False),
            sa.Column("session_id", sa.Integer(), nullable=False),
            sa.Column("ordinal", sa.Integer(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_attachment_chunks"),
            sa.ForeignKeyConstraint(
                ["attachment_id"],
                ["attachments.id"],
                name="fk_attachment_chunks_attachment_id_attachments",
                ondelete="CASCADE",
            ),
            sa.UniqueConstraint("attachment_id", "ordinal", name="uq_attachment_chunk_ordinal"),
        )
    if not _has_index(inspector, TABLE, SESSION_INDEX):
        op.create_index(SESSION_INDEX, TABLE, ["session_id", "attachment_id", "ordinal"])
    if _dialect() == "sqlite":
        if not _has_table(inspector, FTS_TABLE):
            op.execute(_SQLITE_FTS)
            # Index whatever rows exist already (a database created from the models).
            op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
    elif _dialect() == "postgresql":
        if not _has_column(inspector, TABLE, TSV_COLUMN):
            op.execute(
                f"ALTER TABLE {TABLE} ADD COLUMN {TSV_COLUMN} tsvector "
                "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
            )
        if not _has_index(inspector, TABLE, TSV_INDEX):
            columns = f"session_id, {TSV_COLUMN}" if _btree_gin_available() else TSV_COLUMN
            op.execute(f"CREATE INDEX {TSV_INDEX} ON {TABLE} USING gin ({columns})")


def downgrade() -> None:
    inspector = _inspector()
    if _dialect() == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    if inspector is None or _has_table(inspector, TABLE):
        op.drop_table(TABLE)  # PostgreSQL: the tsv column and its GIN index go with it
