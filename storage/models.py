"""coachbot's schema: coaching sessions (one per Slack thread), their messages, processed events.

The declarative classes are the single description of the schema for the application and for
Alembic autogenerate; the hot path in ``storage.conversations`` uses the underlying ``Table``
objects with Core statements, never ORM object loading.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import cast

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from storage.checkin_models import (  # noqa: F401  (re-exported)
    Checkin,
    CheckinAnswer,
    CheckinOptOut,
    checkin_opt_outs,
    checkins,
)
from storage.erasure_models import CoachErasure, coach_erasures  # noqa: F401  (re-exported)
from storage.feedback_models import (  # noqa: F401  (re-exported)
    MODEL_LENGTH,
    PROMPT_VERSION_LENGTH,
    Rating,
    ReplyFeedback,
    reply_feedback,
)
from storage.memory_models import (  # noqa: F401  (re-exported: one place to import tables from)
    CoachCommitment,
    CoachGoal,
    CoachPreference,
    CommitmentStatus,
    GoalStatus,
    RememberedItem,
    SessionSummary,
    SummaryStatus,
    coach_commitments,
    coach_goals,
    coach_preferences,
    remembered_items,
    session_summaries,
)
from storage.schema import (  # noqa: F401  (re-exported)
    ATTACHMENT_KEY_LENGTH,
    ATTACHMENT_MIME_LENGTH,
    ATTACHMENT_NAME_LENGTH,
    LEASE_OWNER_LENGTH,
    NAMING_CONVENTION,
    SLACK_ID_LENGTH,
    TITLE_LENGTH,
    Base,
    BigIntId,
    MessageType,
    UtcDateTime,
    utcnow,
)


class CoachingSession(Base):
    """One coaching conversation: a Slack thread, identified by (team, channel, thread_ts)."""

    __tablename__ = "coaching_sessions"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "thread_ts", name="uq_session_thread"),
        # Named as in the performance guide: "my recent active sessions" and vector-store lookup.
        Index("idx_user_active_updated", "user_id", "is_active", "updated_at"),
        Index("idx_vector_store", "vector_store_id"),
        # The weekly report's "sessions started": a week of sessions off the index (revision 0005).
        Index("idx_sessions_created_team", "created_at", "team_id"),
        # The idle wrap-up job: active sessions without a message for SESSION_IDLE_HOURS (revision 0008).
        Index("idx_sessions_active_updated", "is_active", "updated_at"),
        # Recovery's scan for owed replies nobody works on: only sessions that owe one are indexed.
        Index(
            "idx_sessions_owed",
            "lease_expires_at",
            postgresql_where=sql_text("coach_seq > answered_seq"),
            sqlite_where=sql_text("coach_seq > answered_seq"),
        ),
        # SQLite would otherwise reuse the id of a deleted newest session for the next one, and a
        # session id cached elsewhere must never come to mean another thread.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    channel_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    thread_ts: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    title: Mapped[str | None] = mapped_column(String(TITLE_LENGTH))
    vector_store_id: Mapped[str | None] = mapped_column(String(TITLE_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    # Stored attachments, bumped in the transaction that stores one: a turn in a session without
    # files can skip the attachment queries altogether (revision 0003).
    attachment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Durable turns (revision 0006). Coach messages stored, and how many of them a reply has
    # answered: a reply is owed while coach_seq > answered_seq. Both change in the same write as
    # the message or the reply, under the row's lock, so no message can slip between them.
    coach_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answered_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The one turn running in the session: who holds it, until when (renewed while it runs), and
    # the Slack message it is streaming, so whoever takes over an expired lease can close it.
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_LENGTH))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_stream_ts: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))


class ChatMessage(Base):
    """One message of a session: the user's, the coach's reply, or a system note."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        # The same Slack message can arrive under two event ids (app_mention + message);
        # NULL slack_ts (messages never posted, or not yet) may repeat.
        UniqueConstraint("session_id", "slack_ts", name="uq_message_slack_ts"),
        Index("idx_session_type_timestamp", "session_id", "message_type", "timestamp"),
        Index("idx_session_timestamp", "session_id", "timestamp"),
        # The weekly report's range scan over 7 days, covering what it reads (revision 0005).
        Index("idx_chat_messages_report", "timestamp", "message_type", "session_id", "latency_ms"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("coaching_sessions.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(16))
    slack_ts: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    # A reply's Slack message that carries its feedback buttons (a multi-part reply's last part),
    # and the model and prompt version that wrote it (revision 0010): a press is checked against it.
    reply_ts: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))
    model: Mapped[str | None] = mapped_column(String(MODEL_LENGTH))
    prompt_version: Mapped[str | None] = mapped_column(String(PROMPT_VERSION_LENGTH))


class ProcessedEvent(Base):
    """A Slack event id already handled, so a redelivery (Slack retries) is recorded once."""

    __tablename__ = "processed_events"
    __table_args__ = (
        UniqueConstraint("team_id", "event_id", name="uq_processed_event"),
        # For the purge job that deletes claims older than Slack's retry window.
        Index("idx_processed_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    event_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class AttachmentStatus(StrEnum):
    """Where an attachment is in its intake; stored as the plain string in ``attachments.status``."""

    PENDING = "pending"  # row written, bytes on their way to the file store
    STORED = "stored"  # in the file store: size, sha256 and storage_key are set
    FAILED = "failed"  # download or upload failed; the retry job tries again
    REJECTED = "rejected"  # bad input (empty, too large, unsupported, login page): never retried


class Attachment(Base):
    """A file a coach shared in a session, and where its bytes live in the file store."""

    __tablename__ = "attachments"
    __table_args__ = (
        # Slack redelivers events, and two replicas may race: one row per Slack file, ever.
        UniqueConstraint("slack_file_id", name="uq_attachment_slack_file_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("coaching_sessions.id", ondelete="CASCADE"))
    slack_file_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    name: Mapped[str] = mapped_column(String(ATTACHMENT_NAME_LENGTH))
    mime_type: Mapped[str] = mapped_column(String(ATTACHMENT_MIME_LENGTH))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(ATTACHMENT_KEY_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default=AttachmentStatus.PENDING.value)
    error: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


# The `files` listing: a session's attachments, newest first, straight off the index.
Index("idx_attachments_session_created", Attachment.session_id, Attachment.created_at.desc())
# The retry job's "failed (or stuck pending) rows, oldest first" without scanning the table.
Index("idx_attachments_status_updated", Attachment.status, Attachment.updated_at)


class AttachmentChunk(Base):
    """A piece of an attachment's text: what the full-text search ranks and a turn quotes.

    The full-text index itself is dialect-specific and made only by revision 0004: an FTS5 table
    on SQLite, a generated tsvector column with a GIN index on PostgreSQL (see
    ``include_in_schema_comparison``).
    """

    __tablename__ = "attachment_chunks"
    __table_args__ = (
        # Re-indexing an attachment replaces its chunks; also serves the cascade from attachments.
        UniqueConstraint("attachment_id", "ordinal", name="uq_attachment_chunk_ordinal"),
        # A session's chunks (search filter, the newest file's opening chunks, the purge).
        Index("idx_attachment_chunks_session", "session_id", "attachment_id", "ordinal"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    attachment_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("attachments.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(Integer)  # copied from the attachment: search filters on it
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


#: The full-text index objects of revision 0004 that the models cannot describe on both dialects.
FULL_TEXT_TABLE = "attachment_chunks_fts"  # SQLite FTS5, external content (and its shadow tables)
FULL_TEXT_COLUMN = "tsv"  # PostgreSQL: to_tsvector('english', text), generated and stored
FULL_TEXT_INDEX = "idx_attachment_chunks_tsv"  # PostgreSQL: GIN on tsv


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name``: schema comparisons skip the SQLite FTS5 tables (before reflecting them)."""
    return not (type_ == "table" and name is not None and name.startswith(FULL_TEXT_TABLE))


def include_in_schema_comparison(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic ``include_object``: schema comparisons skip the PostgreSQL full-text column and index."""
    if type_ == "column" and name == FULL_TEXT_COLUMN:
        return getattr(getattr(obj, "table", None), "name", None) != AttachmentChunk.__tablename__
    return not (type_ == "index" and name == FULL_TEXT_INDEX)


class JobRun(Base):
    """A once-per-period job's claim: the replica that inserts (job, period) first does the work."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_runs_job_period"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))  # "2026-W48" for the report, "2026-11-29" for the purge
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(255))


class BystanderNote(Base):
    """Someone other than the coach wrote in a session's thread and was told, once, it isn't theirs."""

    __tablename__ = "bystander_notes"
    __table_args__ = (UniqueConstraint("session_id", "user_id", name="uq_bystander_notes_session_user"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("coaching_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    noted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class WorkspaceSettings(Base):
    """A workspace's own settings, set by its admins with ``/coach admin``; NULL: the deployment's.

    Revision 0007_installations. Keyed by team: Slack ids are unique only within a workspace, and
    an Enterprise Grid org-wide install still coaches in (and reports to) each workspace apart.
    """

    __tablename__ = "workspace_settings"

    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))
    report_channel_id: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))
    perf_admin_ids: Mapped[str | None] = mapped_column(Text)  # space-separated user ids
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # Days after an undated commitment before its check-in (CHECKIN_DAYS is the default).
    checkin_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class WorkspaceUninstall(Base):
    """An uninstalled workspace (or Grid org): its coaching data goes once UNINSTALL_RETENTION_DAYS pass.

    A reinstall within the window deletes the row, and the data stays. ``""`` stands for "none"
    (a workspace outside Grid has no enterprise; an org-wide install has no team).
    """

    __tablename__ = "workspace_uninstalls"

    enterprise_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    uninstalled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


# slack_sdk's installation and OAuth state tables (its SQLAlchemy stores read and write them),
# described by slack_sdk itself so the stores and the schema never disagree; revision 0007.
INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"
slack_installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, INSTALLATIONS_TABLE
)
slack_bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, BOTS_TABLE)
slack_oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, OAUTH_STATES_TABLE)


# Core handles for the hot path (``__table__`` is typed as a FromClause).
coaching_sessions = cast(Table, CoachingSession.__table__)
chat_messages = cast(Table, ChatMessage.__table__)
processed_events = cast(Table, ProcessedEvent.__table__)
job_runs = cast(Table, JobRun.__table__)
attachments = cast(Table, Attachment.__table__)
attachment_chunks = cast(Table, AttachmentChunk.__table__)
bystander_notes = cast(Table, BystanderNote.__table__)
workspace_settings = cast(Table, WorkspaceSettings.__table__)
workspace_uninstalls = cast(Table, WorkspaceUninstall.__table__)

#: The indexes revision 0002 adds, by table; the schema of the original app lacked them.
PERFORMANCE_INDEXES: dict[str, tuple[str, ...]] = {
    "coaching_sessions": ("idx_user_active_updated", "idx_vector_store"),
    "chat_messages": ("idx_session_type_timestamp", "idx_session_timestamp"),
    "processed_events": ("idx_processed_events_received_at",),
}
