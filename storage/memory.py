"""A coach's memory across sessions: wrap-up claims, what a wrap-up extracted, and its edits.

Every query is keyed by the coach (team_id, user_id) and served by an index of revision 0008.
A new session's context is one query (``load``): a UNION ALL of the coach's preference, active
goals, open commitments, remembered items and last three summaries, each branch its own indexed
range. A wrap-up is claimed in one transaction that turns the session inactive and inserts its
``session_summaries`` row, so the words, a button, ``/coach wrap`` and the idle job, racing on
several replicas, wrap a session up once (a failed one may be tried again).

Edits and deletions name the coach in their WHERE clause: an id from a Slack payload changes
nothing that is not that coach's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Date,
    String,
    Table,
    cast,
    delete,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import SqliteWriter, dialect_insert, reads_without_transaction
from storage.memory_query import LISTING_LIMIT, as_date, memory_of_rows, memory_query
from storage.memory_records import (
    Coach,
    CoachMemory,
    Extraction,
    MemoryItem,
    MemoryKind,
    SavedExtraction,
    WrapTarget,
)
from storage.memory_writes import of_coach, save_goals
from storage.models import (
    CommitmentStatus,
    MessageType,
    SummaryStatus,
    chat_messages,
    coach_commitments,
    coach_goals,
    coach_preferences,
    coaching_sessions,
    remembered_items,
    session_summaries,
    utcnow,
)
from storage.turn_records import HistoryMessage

T = TypeVar("T")


_TABLES: dict[MemoryKind, Table] = {
    MemoryKind.GOAL: coach_goals,
    MemoryKind.COMMITMENT: coach_commitments,
    MemoryKind.SUMMARY: session_summaries,
    MemoryKind.REMEMBERED: remembered_items,
}


class MemoryStore:
    """The memory tables on an AsyncEngine; SQLite writes queue in the shared ``SqliteWriter``."""

    def __init__(self, engine: AsyncEngine, *, sqlite_writer: SqliteWriter | None = None) -> None:
        self._engine = engine
        self._reads = reads_without_transaction(engine)
        self._insert = dialect_insert(engine)
        self._sqlite_writer = sqlite_writer if sqlite_writer is not None else SqliteWriter.for_engine(engine)
        self._owns_writer = sqlite_writer is None
        # Built once: a turn executes the same statement object, so SQLAlchemy neither rebuilds
        # nor recompiles it (building this UNION costs milliseconds; running it, a fraction).
        self._load_context = memory_query(None)
        self._load_listing = memory_query(LISTING_LIMIT)

    async def close(self) -> None:
        if self._owns_writer and self._sqlite_writer is not None:
            await self._sqlite_writer.close()

    # ----------------------------------------------------------------- a new session's context

    async def load(self, coach: Coach, *, limit: int | None = None) -> CoachMemory:
        """The coach's memory in one query: on or off, goals, commitments, remembered, summaries."""
        statement = self._load_context if limit is None else self._load_listing
        if limit not in (None, LISTING_LIMIT):
            statement = memory_query(limit)
        params = {"b_team_id": coach.team_id, "b_user_id": coach.user_id}
        async with self._reads.connect() as conn:
            rows = (await conn.execute(statement, params)).all()
        return memory_of_rows(rows)

    # ----------------------------------------------------------------- wrap-ups

    async def wrap_target(self, session_id: int) -> WrapTarget | None:
        s = coaching_sessions
        statement = select(
            s.c.id, s.c.team_id, s.c.user_id, s.c.channel_id, s.c.thread_ts, s.c.is_active
        ).where(s.c.id == session_id)
        async with self._reads.connect() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            return None
        return WrapTarget(
            row.id, row.team_id, row.user_id, row.channel_id, row.thread_ts, bool(row.is_active)
        )

    async def claim_wrap_up(self, target: WrapTarget) -> int | None:
        """End the session and claim its summary; the summary row's id, or None if it is not ours.

        An active session is turned inactive and gets a pending summary; an inactive one can be
        claimed again only when its last wrap-up failed.
        """
        s, ss = coaching_sessions, session_summaries

        def claim(conn: Connection) -> int | None:
            ended = conn.execute(
                update(s).where(s.c.id == target.session_id, s.c.is_active.is_(True)).values(is_active=False)
            ).rowcount
            if ended:
                now = utcnow()
                insert = self._insert(ss).values(
                    session_id=target.session_id,
                    team_id=target.team_id,
                    user_id=target.user_id,
                    status=SummaryStatus.PENDING.value,
                    channel_id=target.channel_id,
                    created_at=now,
                    updated_at=now,
                )
                statement = insert.on_conflict_do_update(
                    index_elements=[ss.c.session_id],
                    set_={"status": SummaryStatus.PENDING.value, "updated_at": now},
                    where=ss.c.status == SummaryStatus.FAILED.value,
                ).returning(ss.c.id)
            else:
                statement = (
                    update(ss)
                    .where(ss.c.session_id == target.session_id, ss.c.status == SummaryStatus.FAILED.value)
                    .values(status=SummaryStatus.PENDING.value, updated_at=utcnow())
                    .returning(ss.c.id)
                )
            row = conn.execute(statement).first()
            conn.commit()
            return None if row is None else int(row[0])

        return await self._write(claim)

    async def latest_active_session(self, coach: Coach, *, channel_id: str | None = None) -> int | None:
        """The coach's newest active session, in ``channel_id`` when given.

        ``idx_user_active_updated`` serves it: a coach's active sessions, newest first.
        """
        s = coaching_sessions
        statement = (
            select(s.c.id)
            .where(s.c.user_id == coach.user_id, s.c.is_active.is_(True), s.c.team_id == coach.team_id)
            .order_by(s.c.updated_at.desc())
            .limit(1)
        )
        if channel_id is not None:
            statement = statement.where(s.c.channel_id == channel_id)
        async with self._reads.connect() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else int(row[0])

    async def transcript(self, session_id: int, *, limit: int) -> list[HistoryMessage]:
        """The session's newest ``limit`` messages of the coach and the bot, oldest first."""
        m = chat_messages
        statement = (
            select(m.c.message_type, m.c.text)
            .where(m.c.session_id == session_id, m.c.message_type != MessageType.SYSTEM.value)
            .order_by(m.c.timestamp.desc(), m.c.id.desc())
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [HistoryMessage(row.message_type, row.text) for row in reversed(rows)]

    async def save_extraction(
        self, summary_id: int, target: WrapTarget, extraction: Extraction, *, keep: bool = True
    ) -> SavedExtraction | None:
        """Store the summary and, when ``keep`` (memory on), the goals, commitments and remembered items.

        None, storing nothing, when the wrap-up's claim is gone: the coach erased their data
        while the summary was being written, and it must not bring any of it back.
        """
        coach = Coach(target.team_id, target.user_id)
        session_id = target.session_id

        def save(conn: Connection) -> SavedExtraction | None:
            now = utcnow()
            claimed = conn.execute(
                update(session_summaries)
                .where(session_summaries.c.id == summary_id)
                .values(
                    summary=extraction.summary if keep else None,
                    status=SummaryStatus.DONE.value,
                    updated_at=now,
                )
            ).rowcount
            if not claimed:  # the claim is gone: the coach erased their data meanwhile
                return None
            commitments: list[MemoryItem] = []
            if keep:
                save_goals(conn, coach, session_id, extraction.goals, now)
                for commitment in extraction.commitments:
                    status = commitment.status if commitment.status in set(CommitmentStatus) else "open"
                    row = conn.execute(
                        coach_commitments.insert()
                        .values(
                            team_id=coach.team_id,
                            user_id=coach.user_id,
                            text=commitment.text,
                            due_date=commitment.due_date,
                            status=status,
                            source_session_id=session_id,
                            created_at=now,
                            updated_at=now,
                            done_at=now if status == CommitmentStatus.DONE else None,
                        )
                        .returning(coach_commitments.c.id)
                    ).first()
                    assert row is not None
                    commitments.append(
                        MemoryItem(
                            MemoryKind.COMMITMENT,
                            int(row[0]),
                            commitment.text,
                            status,
                            now,
                            commitment.due_date,
                        )
                    )
                for text in extraction.remember:
                    conn.execute(
                        remembered_items.insert().values(
                            team_id=coach.team_id,
                            user_id=coach.user_id,
                            text=text,
                            source_session_id=session_id,
                            created_at=now,
                            updated_at=now,
                        )
                    )
            conn.commit()
            return SavedExtraction(summary_id, tuple(commitments))

        return await self._write(save)

    async def record_posted(self, summary_id: int, channel_id: str, message_ts: str) -> None:
        await self._execute(
            update(session_summaries)
            .where(session_summaries.c.id == summary_id)
            .values(channel_id=channel_id, message_ts=message_ts, updated_at=utcnow())
        )

    async def fail_wrap_up(self, summary_id: int) -> None:
        """The extraction failed: the session stays ended, and a later wrap-up may try again."""
        await self._execute(
            update(session_summaries)
            .where(session_summaries.c.id == summary_id)
            .values(status=SummaryStatus.FAILED.value, updated_at=utcnow())
        )

    async def idle_sessions(self, cutoff: datetime, *, limit: int) -> list[tuple[int, str]]:
        """Active sessions (id, team) with no message since ``cutoff`` that owe no reply, oldest first."""
        s = coaching_sessions
        statement = (
            select(s.c.id, s.c.team_id)
            .where(s.c.is_active.is_(True), s.c.updated_at < cutoff, s.c.coach_seq <= s.c.answered_seq)
            .order_by(s.c.updated_at)
            .limit(limit)
        )
        async with self._reads.connect() as conn:
            return [(int(row[0]), str(row[1])) for row in (await conn.execute(statement)).all()]

    # ----------------------------------------------------------------- the coach's own changes

    async def set_enabled(self, coach: Coach, enabled: bool) -> None:
        p = coach_preferences
        now = utcnow()
        statement = (
            self._insert(p)
            .values(team_id=coach.team_id, user_id=coach.user_id, memory_enabled=enabled, updated_at=now)
            .on_conflict_do_update(
                index_elements=[p.c.team_id, p.c.user_id], set_={"memory_enabled": enabled, "updated_at": now}
            )
        )
        await self._execute(statement)

    async def forget(self, coach: Coach) -> int:
        """Delete everything remembered about the coach; how many items went.

        Summary rows stay as the claims of their wrap-ups (so an old session is not summarised
        again), their text cleared.
        """

        def forget(conn: Connection) -> int:
            gone = 0
            for table in (coach_goals, coach_commitments, remembered_items):
                gone += conn.execute(delete(table).where(of_coach(table, coach))).rowcount
            gone += conn.execute(
                update(session_summaries)
                .where(of_coach(session_summaries, coach), session_summaries.c.summary.is_not(None))
                .values(summary=None, updated_at=utcnow())
            ).rowcount
            conn.commit()
            return gone

        return await self._write(forget)

    async def item(self, coach: Coach, kind: MemoryKind, item_id: int) -> MemoryItem | None:
        """One of the coach's items; None when there is none of theirs with that id."""
        table = _TABLES[kind]
        text_column = table.c.summary if kind is MemoryKind.SUMMARY else table.c.text
        status = table.c.status if "status" in table.c else literal("kept", String)
        due = table.c.due_date if "due_date" in table.c else cast(null(), Date)
        statement = select(
            text_column.label("text"), status.label("status"), table.c.created_at, due.label("due")
        ).where(table.c.id == item_id, of_coach(table, coach))
        async with self._reads.connect() as conn:
            row = (await conn.execute(statement)).first()
        if row is None or row.text is None:
            return None
        return MemoryItem(kind, item_id, row.text, row.status, row.created_at, as_date(row.due))

    async def update_text(self, coach: Coach, kind: MemoryKind, item_id: int, text: str) -> bool:
        table = _TABLES[kind]
        column = "summary" if kind is MemoryKind.SUMMARY else "text"
        statement = (
            update(table)
            .where(table.c.id == item_id, of_coach(table, coach))
            .values({column: text, "updated_at": utcnow()})
        )
        return bool(await self._execute(statement))

    async def delete_item(self, coach: Coach, kind: MemoryKind, item_id: int) -> bool:
        table = _TABLES[kind]
        if kind is MemoryKind.SUMMARY:  # the row stays as the wrap-up's claim
            statement: Any = (
                update(table)
                .where(table.c.id == item_id, of_coach(table, coach), table.c.summary.is_not(None))
                .values(summary=None, updated_at=utcnow())
            )
        else:
            statement = delete(table).where(table.c.id == item_id, of_coach(table, coach))
        return bool(await self._execute(statement))

    async def set_commitment_status(self, coach: Coach, commitment_id: int, status: CommitmentStatus) -> bool:
        c = coach_commitments
        now = utcnow()
        statement = (
            update(c)
            .where(c.c.id == commitment_id, of_coach(c, coach))
            .values(
                status=status.value, updated_at=now, done_at=now if status is CommitmentStatus.DONE else None
            )
        )
        return bool(await self._execute(statement))

    # ----------------------------------------------------------------- plumbing

    async def _execute(self, statement: Any) -> int:
        def run(conn: Connection) -> int:
            changed = conn.execute(statement).rowcount
            conn.commit()
            return int(changed)

        return await self._write(run)

    async def _write(self, transaction: Callable[[Connection], T]) -> T:
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(transaction)
        async with self._engine.connect() as conn:
            return await conn.run_sync(transaction)
