"""Owed replies and the per-session turn lease, after the coach's message is stored.

``ConversationStore.record_user_message`` counts each coach message as owed (``coach_seq``) and
takes the session's lease when it is free, in the message's own write. Everything after that is
here: the live turn renews its lease (with the Slack message it is streaming), stores its reply
and marks the messages it answered in one transaction, and either keeps the lease for messages
that arrived meanwhile or gives it up. Any replica takes over owed replies whose lease expired
(the process died) or was handed back (a graceful shutdown): ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two replicas never take the same session; SQLite has one writer, which is the
same guarantee.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Boolean, Integer, String, and_, bindparam, case, cast, not_, or_, select, update
from sqlalchemy.engine import Connection

from storage.conversations import ConversationStore, HistoryMessage, SessionKey
from storage.engine import dialect_insert
from storage.models import MessageType, UtcDateTime, bystander_notes, chat_messages, coaching_sessions, utcnow
from storage.turn_sql import slack_time
from storage.turn_write import may_lack_opening, opening_statement, with_opening

T = TypeVar("T")


@dataclass(frozen=True)
class ReplyToStore:
    """The coach's reply as it reached Slack, with its cost; ``note`` a system note beside it."""

    text: str
    slack_ts: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
    note: str | None = None
    # The message carrying the reply's feedback buttons (its last part), and what wrote the reply.
    reply_ts: str | None = None
    model: str | None = None
    prompt_version: str | None = None


@dataclass(frozen=True)
class Finished:
    """What storing a turn's reply left: more messages owed to answer under the kept lease?"""

    more_owed: bool
    lease_kept: bool
    lease_lost: bool = False


@dataclass(frozen=True)
class OwedTurn:
    """A session that owes its coach a reply and whose lease this replica just took over."""

    session_id: int
    key: SessionKey
    coach_id: str
    lease_owner: str
    coach_seq: int
    # The Slack message the dead turn was streaming (None when it had not started one).
    stale_stream_ts: str | None


@dataclass(frozen=True)
class OwedHistory:
    """A session's newest messages and, read in the same statement, its owed-reply count."""

    history: tuple[HistoryMessage, ...]
    coach_seq: int
    # The newest coach message: what the reply is searched for and titled after.
    last_coach_text: str
    last_coach_ts: str | None
    attachment_count: int = 0


class TurnLeaseStore:
    """The lease and owed-reply writes of a coaching turn (see the module docstring)."""

    def __init__(self, conversations: ConversationStore) -> None:
        """On the conversation store's database, connections and (SQLite) writer thread."""
        self._conversations = conversations
        s, m = coaching_sessions, chat_messages
        insert = dialect_insert(conversations.engine)
        mine = and_(s.c.id == bindparam("b_session_id"), s.c.lease_owner == bindparam("b_owner"))
        self._renew = (
            update(s)
            .where(mine)
            .values(
                lease_expires_at=bindparam("b_until", type_=UtcDateTime),
                lease_stream_ts=bindparam("b_stream_ts", type_=String),
            )
            .returning(s.c.id)
        )
        covered = bindparam("b_covered", type_=Integer)
        # Give the lease up when every coach message is answered, or when asked to (shutdown).
        done = or_(s.c.coach_seq <= covered, not_(bindparam("b_keep", type_=Boolean)))
        self._finish = (
            update(s)
            .where(mine)
            .values(
                answered_seq=case((s.c.answered_seq < covered, covered), else_=s.c.answered_seq),
                lease_stream_ts=None,
                lease_owner=case((done, None), else_=s.c.lease_owner),
                lease_expires_at=case((done, None), else_=s.c.lease_expires_at),
            )
            .returning(s.c.coach_seq, s.c.lease_owner)
        )
        # Handed back without an answer: the open stream stays recorded for whoever takes over.
        self._release = (
            update(s).where(mine).values(lease_owner=None, lease_expires_at=None).returning(s.c.id)
        )
        # A reply (or note) goes in only while its session exists: a coach who erased their data
        # while the reply streamed gets nothing back (the session row is what the erasure deleted).
        fields = (
            "message_type",
            "slack_ts",
            "text",
            "timestamp",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "reply_ts",
            "model",
            "prompt_version",
        )
        in_session = select(s.c.id, *(bindparam(name, type_=m.c[name].type) for name in fields)).where(
            s.c.id == bindparam("session_id", type_=Integer)
        )
        self._insert_message = (
            insert(m)
            .from_select(["session_id", *fields], in_session)
            .on_conflict_do_nothing(index_elements=[m.c.session_id, m.c.slack_ts])
        )
        free = or_(
            s.c.lease_expires_at.is_(None), s.c.lease_expires_at < bindparam("b_now", type_=UtcDateTime)
        )
        owed = s.c.coach_seq > s.c.answered_seq
        abandoned = (
            select(s.c.id)
            .where(owed, free)
            .order_by(s.c.lease_expires_at)
            .limit(bindparam("b_limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
        self._take_over = (
            update(s)
            .where(s.c.id.in_(abandoned.scalar_subquery()), owed, free)
            .values(
                lease_owner=bindparam("b_prefix", type_=String) + cast(s.c.id, String),
                lease_expires_at=bindparam("b_until", type_=UtcDateTime),
            )
            .returning(
                s.c.id,
                s.c.team_id,
                s.c.channel_id,
                s.c.thread_ts,
                s.c.user_id,
                s.c.coach_seq,
                s.c.lease_owner,
                s.c.lease_stream_ts,
            )
        )
        session = s.c.id == bindparam("session_id")
        self._opening = opening_statement()
        self._owed_history = (
            select(
                m.c.id,
                m.c.message_type,
                m.c.text,
                m.c.slack_ts,
                select(s.c.coach_seq).where(session).scalar_subquery().label("coach_seq"),
                select(s.c.attachment_count).where(session).scalar_subquery().label("attachment_count"),
            )
            .where(m.c.session_id == bindparam("session_id"))
            .order_by(m.c.timestamp.desc(), m.c.id.desc())
            .limit(bindparam("limit", type_=Integer))
        )
        self._note_bystander = (
            insert(bystander_notes)
            .on_conflict_do_nothing(index_elements=[bystander_notes.c.session_id, bystander_notes.c.user_id])
            .returning(bystander_notes.c.id)
        )

    async def renew(self, session_id: int, owner: str, *, seconds: float, stream_ts: str | None) -> bool:
        """Extend the lease (and record the open Slack message); False when it is no longer ours."""
        params = {
            "b_session_id": session_id,
            "b_owner": owner,
            "b_until": utcnow() + timedelta(seconds=seconds),
            "b_stream_ts": stream_ts,
        }
        return await self._write(functools.partial(_returns_a_row, statement=self._renew, params=params))

    async def finish(
        self, session_id: int, owner: str, *, covered_seq: int, reply: ReplyToStore | None, keep: bool
    ) -> Finished:
        """Store the reply and mark the coach messages up to ``covered_seq`` answered, in one write.

        With ``keep`` the lease stays with the turn when messages arrived meanwhile
        (``more_owed``); without it (shutting down) they are handed to whoever takes over.
        """
        return await self._write(
            functools.partial(
                self._finish_in,
                session_id=session_id,
                owner=owner,
                covered=covered_seq,
                reply=reply,
                keep=keep,
            )
        )

    async def release(self, session_id: int, owner: str) -> None:
        """Hand the owed reply back unanswered, e.g. at shutdown: another turn takes it over."""
        params = {"b_session_id": session_id, "b_owner": owner}
        await self._write(functools.partial(_returns_a_row, statement=self._release, params=params))

    async def take_over_abandoned(self, prefix: str, *, seconds: float, limit: int = 20) -> list[OwedTurn]:
        """Lease up to ``limit`` sessions owing a reply that nobody holds (or whose holder died)."""
        now = utcnow()
        params = {
            "b_now": now,
            "b_until": now + timedelta(seconds=seconds),
            "b_prefix": prefix,
            "b_limit": limit,
        }
        rows = await self._write(functools.partial(_all_rows, statement=self._take_over, params=params))
        return [
            OwedTurn(
                session_id=row.id,
                key=SessionKey(row.team_id, row.channel_id, row.thread_ts),
                coach_id=row.user_id,
                lease_owner=row.lease_owner,
                coach_seq=row.coach_seq,
                stale_stream_ts=row.lease_stream_ts,
            )
            for row in rows
        ]

    async def owed_history(self, session_id: int, *, limit: int) -> OwedHistory:
        """The newest ``limit`` messages, oldest first (led by the session's opening when it is older),
        and the owed count they answer up to."""
        async with self._conversations.reading() as conn:
            params = {"session_id": session_id, "limit": limit}
            rows = (await conn.execute(self._owed_history, params)).all()
            opening = (
                (await conn.execute(self._opening, params)).first() if may_lack_opening(rows, limit) else None
            )
        history = with_opening(rows, opening)
        rows.reverse()
        coach_rows = [row for row in rows if row.message_type == MessageType.USER.value]
        last = coach_rows[-1] if coach_rows else None
        return OwedHistory(
            history=tuple(history),
            coach_seq=rows[0].coach_seq if rows else 0,
            last_coach_text=last.text if last is not None else "",
            last_coach_ts=last.slack_ts if last is not None else None,
            attachment_count=rows[0].attachment_count if rows else 0,
        )

    async def note_bystander(self, session_id: int, user_id: str) -> bool:
        """Remember that ``user_id`` was told this session isn't theirs; True the first time only."""
        params = {"session_id": session_id, "user_id": user_id, "noted_at": utcnow()}
        return await self._write(
            functools.partial(_returns_a_row, statement=self._note_bystander, params=params)
        )

    def _finish_in(
        self,
        conn: Connection,
        *,
        session_id: int,
        owner: str,
        covered: int,
        reply: ReplyToStore | None,
        keep: bool,
    ) -> Finished:
        now = utcnow()
        if reply is not None and reply.text:
            conn.execute(
                self._insert_message,
                {
                    "session_id": session_id,
                    "message_type": MessageType.ASSISTANT.value,
                    "slack_ts": reply.slack_ts,
                    "text": reply.text,
                    "timestamp": slack_time(reply.slack_ts, now),
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "latency_ms": reply.latency_ms,
                    "reply_ts": reply.reply_ts,
                    "model": reply.model,
                    "prompt_version": reply.prompt_version,
                },
            )
        if reply is not None and reply.note:
            conn.execute(
                self._insert_message,
                {
                    "session_id": session_id,
                    "message_type": MessageType.SYSTEM.value,
                    "slack_ts": None,
                    "text": reply.note,
                    "timestamp": now + timedelta(microseconds=1),
                    "prompt_tokens": None,
                    "completion_tokens": None,
                    "latency_ms": None,
                    "reply_ts": None,
                    "model": None,
                    "prompt_version": None,
                },
            )
        row = conn.execute(
            self._finish,
            {"b_session_id": session_id, "b_owner": owner, "b_covered": covered, "b_keep": keep},
        ).first()
        conn.commit()  # the reply is in Slack already: keep it even if the lease was lost
        if row is None:
            return Finished(more_owed=False, lease_kept=False, lease_lost=True)
        kept = row.lease_owner is not None
        return Finished(more_owed=kept and row.coach_seq > covered, lease_kept=kept)

    async def _write(self, transaction: Callable[[Connection], T]) -> T:
        return await self._conversations.run_write(transaction)


def _returns_a_row(conn: Connection, *, statement: Any, params: dict[str, Any]) -> bool:
    found = conn.execute(statement, params).first() is not None
    conn.commit()
    return found


def _all_rows(conn: Connection, *, statement: Any, params: dict[str, Any]) -> list[Any]:
    rows = list(conn.execute(statement, params).all())
    conn.commit()
    return rows
