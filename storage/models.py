"""coachbot's schema: coaching sessions (one per Slack thread), their messages, processed events.

The declarative classes are the single description of the schema for the application and for
Alembic autogenerate; the hot path in ``storage.conversations`` uses the underlying ``Table``
objects with Core statements, never ORM object loading.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Names for constraints SQLAlchemy would otherwise leave to the database, so that both
#: dialects (and later migrations that drop or alter them) agree on one name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Slack ids ("T0123ABCD", "C…", "U…", "Ev…") and timestamps ("1700000000.123456") are short;
# the bound leaves room without costing anything (VARCHAR(n) is stored by actual length).
SLACK_ID_LENGTH = 64
TITLE_LENGTH = 255
ATTACHMENT_NAME_LENGTH = 255
ATTACHMENT_MIME_LENGTH = 255
ATTACHMENT_KEY_LENGTH = 1024
LEASE_OWNER_LENGTH = 128


class MessageType(StrEnum):
    """Who said a message; stored as the plain string in ``chat_messages.message_type``."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the only kind of datetime the schema stores."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect.

    PostgreSQL's ``timestamptz`` keeps the instant, but SQLite stores naive text and would hand
    back naive datetimes; normalising to UTC on the way in and tagging UTC on the way out makes
    both return the same values and keeps SQLite's text ordering chronological.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return cast(datetime, value).replace(tzinfo=UTC)
        return cast(datetime, value).astimezone(UTC)


#: 64-bit ids on PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` is the autoincrementing rowid.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base sharing one ``MetaData`` with a naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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


class CommitmentStatus(StrEnum):
    """Where a commitment stands; stored as the plain string in ``coach_commitments.status``."""

    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class GoalStatus(StrEnum):
    """Whether a goal is still being worked on; stored in ``coach_goals.status``."""

    ACTIVE = "active"
    DONE = "done"
    DROPPED = "dropped"


class SummaryStatus(StrEnum):
    """A wrap-up's progress: its row is the claim, so one replica summarises a session once."""

    PENDING = "pending"  # claimed; the extraction call is running
    DONE = "done"  # summary stored and posted
    FAILED = "failed"  # the model or Slack failed; the coach was told


class CoachGoal(Base):
    """A goal a coach is working on, extracted at a wrap-up (or edited by the coach)."""

    __tablename__ = "coach_goals"
    __table_args__ = (
        # A new session's context: the coach's active goals, newest first (revision 0008).
        Index("idx_coach_goals_coach", "team_id", "user_id", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=GoalStatus.ACTIVE.value)
    # The session it came from; kept (as NULL) when the retention purge deletes that session.
    source_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class CoachCommitment(Base):
    """Something a coach said they would do, in their own words, with a due date when they named one."""

    __tablename__ = "coach_commitments"
    __table_args__ = (
        # A new session's context and /coach memory: a coach's open commitments by due date.
        Index("idx_coach_commitments_coach", "team_id", "user_id", "status", "due_date"),
        # Check-ins: open commitments due by a date (or, undated, made before one), across coaches.
        Index("idx_coach_commitments_status_due", "status", "due_date", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)  # the coach's own words
    due_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=CommitmentStatus.OPEN.value)
    source_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionSummary(Base):
    """A wrapped-up session's summary, and where it was posted; one per session, ever."""

    __tablename__ = "session_summaries"
    __table_args__ = (
        # The claim: two replicas (or a button and the idle job) wrapping one session up.
        UniqueConstraint("session_id", name="uq_session_summaries_session"),
        # A new session's context: the coach's last three summaries.
        Index("idx_session_summaries_coach", "team_id", "user_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("coaching_sessions.id", ondelete="SET NULL"))
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default=SummaryStatus.PENDING.value)
    summary: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))
    message_ts: Mapped[str | None] = mapped_column(String(SLACK_ID_LENGTH))  # the posted summary
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class RememberedItem(Base):
    """Something the coach asked the coach bot to remember."""

    __tablename__ = "remembered_items"
    __table_args__ = (Index("idx_remembered_items_coach", "team_id", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    source_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class CoachPreference(Base):
    """A coach's own switches (one row per coach, only once they change one): memory on or off."""

    __tablename__ = "coach_preferences"

    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    memory_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


class CheckinAnswer(StrEnum):
    """How a coach answered a check-in; stored in ``checkins.answer`` (NULL until answered)."""

    DONE = "done"
    NOT_YET = "not_yet"
    TALK = "talk"


class Checkin(Base):
    """One check-in DM about a commitment: the n-th (``round``) time the coach is asked how it went.

    Written once the DM is posted (its channel and ts), answered by one of its buttons;
    ``next_due_at`` is when the next round becomes due (after "Not yet" or "Let's talk"), NULL
    when there is none. Sending is claimed once per (commitment, round) in ``job_runs``.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        # One DM per round, and the check-in job's "latest round of each open commitment".
        UniqueConstraint("commitment_id", "round", name="uq_checkins_commitment_round"),
        # The weekly report's "check-ins answered": a week's answers off the index (revision 0009).
        Index("idx_checkins_answered", "answered_at", "team_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    commitment_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("coach_commitments.id", ondelete="CASCADE")
    )
    round: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    channel_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    message_ts: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CheckinOptOut(Base):
    """A coach who turned check-ins off (``/coach checkins off``); no row means they are on."""

    __tablename__ = "checkin_opt_outs"

    team_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(SLACK_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, server_default=func.now())


# Core handles for the hot path (``__table__`` is typed as a FromClause).
coaching_sessions = cast(Table, CoachingSession.__table__)
chat_messages = cast(Table, ChatMessage.__table__)
processed_events = cast(Table, ProcessedEvent.__table__)
job_runs = cast(Table, JobRun.__table__)
attachments = cast(Table, Attachment.__table__)
attachment_chunks = cast(Table, AttachmentChunk.__table__)
bystander_notes = cast(Table, BystanderNote.__table__)
coach_goals = cast(Table, CoachGoal.__table__)
coach_commitments = cast(Table, CoachCommitment.__table__)
session_summaries = cast(Table, SessionSummary.__table__)
remembered_items = cast(Table, RememberedItem.__table__)
coach_preferences = cast(Table, CoachPreference.__table__)
checkins = cast(Table, Checkin.__table__)
checkin_opt_outs = cast(Table, CheckinOptOut.__table__)

#: The indexes revision 0002 adds, by table; the schema of the original app lacked them.
PERFORMANCE_INDEXES: dict[str, tuple[str, ...]] = {
    "coaching_sessions": ("idx_user_active_updated", "idx_vector_store"),
    "chat_messages": ("idx_session_type_timestamp", "idx_session_timestamp"),
    "processed_events": ("idx_processed_events_received_at",),
}
