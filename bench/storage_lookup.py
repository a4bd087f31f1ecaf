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
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from bench.database import temporary_database
from bench.seed import SeedResult, SeedSpec, seed_database
from storage.conversations import ConversationStore, SessionKey
from storage.engine import create_db_engine
from storage.migrate import upgrade_database

BIG_SESSION_SHARE = 0.25  # a quarter of all messages sit in one long-running session
TEXT = "Let's talk about how the feedback conversation went and what you would change next time. " * 2


def seed(url: str, *, sessions: int, messages: int) -> SeedResult:
    """Bulk-load sessions and messages (bench.seed: setup, not what is measured); session 1 is big."""
    big = int(messages * BIG_SESSION_SHARE)
    seeded = seed_database(url, SeedSpec(sessions, messages, first_session_messages=big))
    print(
        f"  seeded {sessions} sessions, {messages} messages ({big} in session {seeded.first_session_id}), "
        f"{messages - big} elsewhere"
    )
    return seeded


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


async def measure(url: str, *, seeded: SeedResult, iterations: int) -> None:
    engine = create_db_engine(url)
    store = ConversationStore(engine)
    typical = [seeded.session_key(n) for n in range(2, seeded.sessions + 1)]
    big_id, seventh = seeded.first_session_id, seeded.session_key(7)
    try:
        await explain(
            engine,
            "thread -> session id",
            store._select_session.params(
                team_id=seventh.team_id, channel_id=seventh.channel_id, thread_ts=seventh.thread_ts
            ),
        )
        await explain(
            engine,
            "history, 50 newest (typical session)",
            store._history.params(session_id=big_id + 6, limit=50),
        )
        await explain(
            engine, "history, 50 newest (big session)", store._history.params(session_id=big_id, limit=50)
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
            await store.load_history(big_id, limit=50)

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
                big_id + 1 + n % 20,
                slack_ts=f"1800{n:06d}.000400",
                text=TEXT,
                prompt_tokens=300,
                latency_ms=900,
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
        await store.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the server to create a scratch database on (dropped afterwards)",
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument("--iterations", type=int, default=2_000)
    args = parser.parse_args()
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        print(f"{backend}:")
        with temporary_database(None if backend == "sqlite" else args.postgres_url) as db:
            url = db.url
            upgrade_database(url)
            seeded = seed(url, sessions=args.sessions, messages=args.messages)
            print(f"  (seeding took {seeded.seconds:.1f} s)")
            asyncio.run(measure(url, seeded=seeded, iterations=args.iterations))


if __name__ == "__main__":
    main()
