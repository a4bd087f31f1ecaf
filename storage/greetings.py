"""Whether a coach has been greeted: one greeting for a coach who has never coached here.

Slack sends ``app_home_opened`` every time a coach opens the bot's Messages tab (the agent
view), and apps still on the older assistant view also get ``assistant_thread_started``, often
for the same click. Slack's advice is to greet on the first interaction only. A coach with a
coaching session already is past that; for the rest, the greeting is claimed like a delivery,
a row in ``processed_events`` keyed ``greeting:<user>``, so retries, both events and every
replica agree on one greeting. The daily prune drops the claim after a week, so a coach who
opened the tab and never wrote is welcomed once more when they come back later.
"""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import SqliteWriter, dialect_insert
from storage.models import coaching_sessions, processed_events, utcnow

GREETING_KEY_PREFIX = "greeting:"


class GreetingLedger:
    """Claims a coach's first greeting, once across retries, events and replicas."""

    def __init__(self, engine: AsyncEngine, *, sqlite_writer: SqliteWriter | None = None) -> None:
        """``sqlite_writer``: the conversation store's, so SQLite keeps one queue of writers."""
        self._engine = engine
        self._sqlite_writer = sqlite_writer
        e, s = processed_events, coaching_sessions
        has_coached = exists().where(s.c.team_id == bindparam("team_id"), s.c.user_id == bindparam("user_id"))
        first_time = select(
            bindparam("team_id", type_=e.c.team_id.type),
            bindparam("event_id", type_=e.c.event_id.type),
            bindparam("received_at", type_=e.c.received_at.type),
        ).where(~has_coached)
        self._claim = (
            dialect_insert(engine)(e)
            .from_select([e.c.team_id, e.c.event_id, e.c.received_at], first_time)
            .on_conflict_do_nothing(index_elements=[e.c.team_id, e.c.event_id])
            .execution_options(preserve_rowcount=True)
        )

    async def claim_first_greeting(self, team_id: str, user_id: str) -> bool:
        """True when this caller should greet the coach: never greeted lately, never coached here."""
        params = {
            "team_id": team_id,
            "user_id": user_id,
            "event_id": f"{GREETING_KEY_PREFIX}{user_id}",
            "received_at": utcnow(),
        }
        transaction = functools.partial(self._claim_in, params=params)
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(transaction)
        async with self._engine.connect() as conn:
            return await conn.run_sync(transaction)

    def _claim_in(self, conn: Connection, *, params: dict[str, object]) -> bool:
        won = conn.execute(self._claim, params).rowcount == 1
        conn.commit()
        return won
