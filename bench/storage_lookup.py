"""Hand-run timing sanity check of the coaching hot path (holds no tests; pytest collects nothing here).

Seeds a database with many messages, then times what every coach turn does, through the real
``ConversationStore`` on the app's engine, and prints the query plans so the indexes can be
seen at work::

    .venv/bin/python -m bench.storage_lookup                    # both databases, 200k messages
    .venv/bin/python -m bench.storage_lookup --backend sqlite --messages 1000000

Targets: <= 2 ms for session lookup + history, a few ms for recording a message.
PostgreSQL runs on a throwaway database on 127.0.0.1:5432 (see tests/fixtures/databases.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from storage.conversations import ConversationStore, SessionKey
from storage.engine import create_db_engine, sync_url
from storage.migrate import upgrade_database
from storage.models import chat_messages, coaching_sessions

BIG_SESSION_SHARE = 0.25  # a quarter of all messages sit in one long-running session
TEXT = "Let's talk about how the feedback conversation went and what you would change next time. " * 2


def session_key(n: int) -> SessionKey:
    return SessionKey("T1", f"C{n % 50:04d}", f"1700{n:06d}.000100")


def seed(engine: Engine, *, sessions: int, messages: int) -> None:
    """Bulk-insert sessions and messages (synchronously, it is setup, not what is measured)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(coaching_sessions),
            [
                {
                    "team_id": key.team_id,
                    "channel_id": key.channel_id,
                    "thread_ts": key.thread_ts,
                    "user_id": f"U{n % 200:04d}",
                    "is_active": n % 3 != 0,
                    "title": f"Session {n}",
                    "vector_store_id": f"vs_{n}" if n % 4 == 0 else None,
                    "created_at": start,
                    "updated_at": start + timedelta(minutes=n),
                }
                for n, key in ((n, session_key(n)) for n in range(1, sessions + 1))
            ],
        )
    big = int(messages * BIG_SESSION_SHARE)
    rest = messages - big
    chunk: list[dict[str, object]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(chat_messages), chunk)
        chunk.clear()

    for i in range(messages):
        session_id = 1 if i < big else 2 + (i - big) % (sessions - 1)
        chunk.append(
            {
                "session_id": session_id,
                "message_type": "user" if i % 2 == 0 else "assistant",
                "slack_ts": f"1710{i:06d}.000200",
                "text": TEXT,
                "timestamp": start + timedelta(seconds=i),
                "prompt_tokens": 300 if i % 2 else None,
                "completion_tokens": 120 if i % 2 else None,
                "latency_ms": 900 if i % 2 else None,
            }
        )
        if len(chunk) == 10_000:
            flush()
    if chunk:
        flush()
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(f"  seeded {sessions} sessions, {messages} messages ({big} in session 1), {rest} elsewhere")


async def timed(label: str, iterations: int, call: Callable[[int], Awaitable[object]]) -> None:
    for n in range(iterations, iterations + min(50, iterations)):  # warm pool, statements, caches
        await call(n)
    samples = []
    for n in range(iterations):
        began = time.perf_counter()
        await call(n)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    print(
        f"  {label:<58} mean {statistics.fmean(samples):6.3f}  p50 {p(0.5):6.3f}  "
        f"p95 {p(0.95):6.3f}  p99 {p(0.99):6.3f} ms"
    )


async def explain(engine: AsyncEngine, label: str, statement: Executable) -> None:
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)"
        if engine.dialect.name == "postgresql"
        else "EXPLAIN QUERY PLAN"
    )
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(f"{prefix} {sql}")).all()
    print(f"  plan: {label}")
    for row in rows:
        print(f"      {row[-1]}")


async def measure(url: str, *, sessions: int, iterations: int) -> None:
    engine = create_db_engine(url)
    store = ConversationStore(engine)
    typical = [session_key(n) for n in range(2, sessions + 1)]
    try:
        await explain(
            engine,
            "thread -> session id",
            store._select_session.params(
                team_id="T1", channel_id="C0007", thread_ts=session_key(7).thread_ts
            ),
        )
        await explain(
            engine, "history, 50 newest (typical session)", store._history.params(session_id=7, limit=50)
        )
        await explain(
            engine, "history, 50 newest (big session)", store._history.params(session_id=1, limit=50)
        )

        async def cold_lookup_and_history(n: int) -> None:
            key = typical[n % len(typical)]
            store.session_cache.pop(key)
            session_id = await store.find_session_id(key)
            assert session_id is not None
            await store.load_history(session_id, limit=50)

        async def warm_lookup_and_history(n: int) -> None:
            session_id = await store.find_session_id(typical[n % 20])
            assert session_id is not None
            await store.load_history(session_id, limit=50)

        async def big_history(n: int) -> None:
            await store.load_history(1, limit=50)

        async def user_message(n: int) -> None:
            key = typical[n % 20]
            recorded = await store.record_user_message(
                key,
                user_id="U1",
                slack_ts=f"1800{n:06d}.000300",
                text="How do I start that conversation?",
                event_id=f"EvT{n}",
                start_session=False,
            )
            assert recorded is not None

        async def assistant_message(n: int) -> None:
            await store.record_assistant_message(
                2 + n % 20, slack_ts=f"1800{n:06d}.000400", text=TEXT, prompt_tokens=300, latency_ms=900
            )

        async def new_session(n: int) -> None:
            key = SessionKey("T1", "C9999", f"1900{n:06d}.000100")
            recorded = await store.record_user_message(
                key,
                user_id="U1",
                slack_ts=key.thread_ts,
                text="Hi coach",
                event_id=f"EvN{n}",
                start_session=True,
            )
            assert recorded is not None and recorded.is_new_session

        await timed("find_session_id (cache miss) + load_history(50)", iterations, cold_lookup_and_history)
        await timed("find_session_id (cached) + load_history(50)", iterations, warm_lookup_and_history)
        await timed("load_history(50) of the big session", iterations, big_history)
        await timed("record_user_message (follow-up, event claim)", iterations, user_message)
        await timed("record_user_message (opens a session)", iterations, new_session)
        await timed("record_assistant_message", iterations, assistant_message)
        print(f"  session cache: {store.session_cache.stats()}")
    finally:
        await engine.dispose()


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'timing.db'}"
        return
    from tests.fixtures.databases import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument("--iterations", type=int, default=2_000)
    args = parser.parse_args()
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        print(f"{backend}:")
        with database(backend) as url:
            upgrade_database(url)
            sync_engine = create_engine(sync_url(url), poolclass=NullPool)
            began = time.perf_counter()
            seed(sync_engine, sessions=args.sessions, messages=args.messages)
            sync_engine.dispose()
            print(f"  (seeding took {time.perf_counter() - began:.1f} s)")
            asyncio.run(measure(url, sessions=args.sessions, iterations=args.iterations))


if __name__ == "__main__":
    main()
