"""A coach's edits and deletions of their own messages, applied to the stored session.

Each is one statement matched by the session's thread (team in the key), the original message's
Slack ``ts`` and the session's coach: a message someone else wrote, a reply of the bot's and a
thread that is no session are never touched. A deleted message's row is removed, so the history
sent to the model no longer holds it; an edited one gets the new text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import SqliteWriter, reads_without_transaction
from storage.models import MessageType, chat_messages, coaching_sessions


@dataclass(frozen=True)
class CoachMessageRef:
    """Which stored message: the session's thread, the message's ``ts`` and who wrote it."""

    team_id: str
    channel_id: str
    thread_ts: str
    slack_ts: str
    user_id: str


class MessageEditStore:
    """Edits and deletions on an AsyncEngine; SQLite writes queue in the shared ``SqliteWriter``."""

    def __init__(self, engine: AsyncEngine, *, sqlite_writer: SqliteWriter | None = None) -> None:
        """``sqlite_writer``: the conversation store's (one queue of writers per SQLite file)."""
        self._autocommit = reads_without_transaction(engine)
        self._sqlite_writer = sqlite_writer if sqlite_writer is not None else SqliteWriter.for_engine(engine)
        self._owns_writer = sqlite_writer is None
        s, m = coaching_sessions, chat_messages
        coach_session = (
            select(s.c.id)
            .where(
                s.c.team_id == bindparam("b_team_id"),
                s.c.channel_id == bindparam("b_channel_id"),
                s.c.thread_ts == bindparam("b_thread_ts"),
                s.c.user_id == bindparam("b_user_id"),
            )
            .scalar_subquery()
        )
        coach_message = (
            m.c.session_id == coach_session,
            m.c.slack_ts == bindparam("b_slack_ts"),
            m.c.message_type == MessageType.USER.value,
        )
        self._update = update(m).where(*coach_message).values(text=bindparam("new_text"))
        self._delete = delete(m).where(*coach_message)

    async def update_text(self, ref: CoachMessageRef, text: str) -> bool:
        """Give the stored message its edited text; False when no such message of the coach is stored."""
        return await self._run(self._update, {**_params(ref), "new_text": text})

    async def delete(self, ref: CoachMessageRef) -> bool:
        """Remove the message from the session; False when no such message of the coach is stored."""
        return await self._run(self._delete, _params(ref))

    async def _run(self, statement: object, params: dict[str, str]) -> bool:
        if self._sqlite_writer is not None:

            def write(conn: Connection) -> bool:
                changed = conn.execute(statement, params).rowcount  # type: ignore[call-overload]
                conn.commit()
                return bool(changed)

            return await self._sqlite_writer.run(write)
        async with self._autocommit.connect() as conn:  # one statement: atomic in autocommit mode
            result = await conn.execute(statement, params)  # type: ignore[call-overload]
            return bool(result.rowcount)

    async def close(self) -> None:
        if self._owns_writer and self._sqlite_writer is not None:
            await self._sqlite_writer.close()


def _params(ref: CoachMessageRef) -> dict[str, str]:
    return {
        "b_team_id": ref.team_id,
        "b_channel_id": ref.channel_id,
        "b_thread_ts": ref.thread_ts,
        "b_user_id": ref.user_id,
        "b_slack_ts": ref.slack_ts,
    }
