"""The large-database scenario: the storage side of a coaching turn on 100k sessions / 1M messages.

Seeds a scratch database with ``bench.seed`` (executemany on SQLite, COPY on PostgreSQL), then,
through the real ``ConversationStore`` on the app's engine:

- thread → session lookup + the history load (the rows a 12k-token budget reads, and the
  opening), p50/p99 (cache miss and cache hit);
- the turn's write (claim + session + message + history), the product path beside the former
  one (PostgreSQL: one CTE statement vs a transaction of five; pool pre-ping on and off),
  interleaved in one run so the machine's noise falls on both alike;
- the session cache's hit rate when a day of coaching traffic is replayed on a virtual clock,
  at the configured TTL and at longer ones;
- the weekly report's generation time (``bot.operations.report.build_weekly_report``), when it exists.

It prints the query plans too, and writes ``bench/results/large_db_<backend>.json``::

    .venv/bin/python -m bench.storage_lookup                       # both databases, 1M messages
    .venv/bin/python -m bench.storage_lookup --backend sqlite --messages 200000 --sessions 20000

PostgreSQL runs on a throwaway database on 127.0.0.1:5432. Holds no tests (pytest collects nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import importlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from bench.database import BenchDatabase, temporary_database
from bench.report import RESULTS_DIR, machine_info
from bench.seed import SeedResult, SeedSpec, seed_database
from bench.stats import Summary, ratio, summarize
from bot.conversation.prompt import history_rows
from storage.caches import CountingTTLCache
from storage.conversations import (
    SESSION_CACHE_MAXSIZE,
    SESSION_CACHE_TTL_SECONDS,
    ConversationStore,
    RecordedMessage,
    SessionKey,
)
from storage.engine import create_db_engine, sync_url
from storage.migrate import upgrade_database

HISTORY_LIMIT = history_rows(12_000)  # as bot.conversation.coaching reads it at the default budget
TEXT = "Let's talk about how the feedback conversation went and what you would change next time. " * 2
REPLAY_TTLS = (SESSION_CACHE_TTL_SECONDS, 300.0, 3600.0)


def seed(url: str, *, sessions: int, messages: int, big_share: float) -> SeedResult:
    """Bulk-load sessions and messages (setup, not what is measured); session 1 may be a big one."""
    big = int(messages * big_share) if big_share else None
    seeded = seed_database(url, SeedSpec(sessions, messages, first_session_messages=big))
    print(
        f"  seeded {sessions} sessions / {messages} messages in {seeded.seconds:.1f} s "
        f"(session {seeded.first_session_id}: {seeded.first_session_messages} messages)",
        flush=True,
    )
    return seeded


async def timed(label: str, iterations: int, call: Callable[[int], Awaitable[object]]) -> Summary:
    """Warm up, then time ``iterations`` calls; prints and returns the summary (ms)."""
    for n in range(iterations, iterations + min(50, iterations)):  # warm pool, statements, caches
        await call(n)
    samples = []
    for n in range(iterations):
        began = time.perf_counter()
        await call(n)
        samples.append((time.perf_counter() - began) * 1000)
    summary = summarize(samples)
    print(f"  {label:<62} {_fmt(summary)}", flush=True)
    return summary


async def interleaved(
    iterations: int, variants: dict[str, Callable[[int], Awaitable[object]]]
) -> dict[str, Summary]:
    """Time several variants in turn (rotating the order each round): a fair before/after."""
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for n in range(-20, iterations):  # the first 20 rounds warm up
        for offset in range(len(names)):
            name = names[(n + offset) % len(names)]
            began = time.perf_counter()
            await variants[name](n + 20)
            if n >= 0:
                samples[name].append((time.perf_counter() - began) * 1000)
    results = {name: summarize(values) for name, values in samples.items()}
    for name, summary in results.items():
        print(f"  {name:<62} {_fmt(summary)}", flush=True)
    return results


def _fmt(summary: Summary) -> str:
    return (
        f"p50 {summary['p50']:7.3f}  p95 {summary['p95']:7.3f}  p99 {summary['p99']:7.3f}  "
        f"max {summary['max']:8.3f} ms  (n={summary['count']})"
    )


async def explain(engine: AsyncEngine, label: str, statement: Executable) -> list[str]:
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)"
        if engine.dialect.name == "postgresql"
        else "EXPLAIN QUERY PLAN"
    )
    async with engine.connect() as conn:
        rows = [str(row[-1]) for row in (await conn.exec_driver_sql(f"{prefix} {sql}")).all()]
    print(f"  plan: {label}")
    for row in rows:
        print(f"      {row}")
    return rows


@contextmanager
def pre_ping(engine: AsyncEngine, enabled: bool) -> Iterator[None]:
    """SQLAlchemy's ping at every checkout (BEGIN; SELECT; ROLLBACK on asyncpg), as the engine had it."""
    pool: Any = engine.pool
    saved = pool._pre_ping
    pool._pre_ping = enabled
    try:
        yield
    finally:
        pool._pre_ping = saved


# ------------------------------------------------------------------ lookups and history


async def long_sessions(engine: AsyncEngine, seeded: SeedResult, limit: int = 5000) -> list[int]:
    """Numbers n (id − base) of seeded sessions holding at least HISTORY_LIMIT messages, shuffled."""
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT session_id FROM chat_messages GROUP BY session_id "
            f"HAVING count(*) >= {HISTORY_LIMIT} ORDER BY session_id"
        )
        numbers = [row[0] - seeded.session_id_base for row in rows if row[0] != seeded.first_session_id]
    random.Random(5).shuffle(numbers)
    if not numbers:
        raise SystemExit(f"no seeded session holds {HISTORY_LIMIT} messages: seed more messages per session")
    return numbers[:limit]


async def lookups(
    store: ConversationStore, engine: AsyncEngine, seeded: SeedResult, iterations: int, long: list[int]
) -> dict:
    """Lookups and history reads in sessions of 50+ messages (the history read is a full one)."""
    typical = [seeded.session_key(n) for n in long]
    base = seeded.session_id_base
    plans = {
        "thread -> session id": await explain(
            engine,
            "thread -> session id",
            store._select_session.params(
                team_id=typical[0].team_id, channel_id=typical[0].channel_id, thread_ts=typical[0].thread_ts
            ),
        ),
        "history, 50 newest (typical session)": await explain(
            engine,
            "history, 50 newest (typical session)",
            store._history.params(session_id=base + long[0], limit=HISTORY_LIMIT),
        ),
    }

    async def cold(n: int) -> None:
        key = typical[n % len(typical)]
        store.session_cache.pop(key)
        session_id = await store.find_session_id(key)
        assert session_id is not None
        await store.load_history(session_id, limit=HISTORY_LIMIT)

    async def warm(n: int) -> None:
        session_id = await store.find_session_id(typical[n % 20])
        assert session_id is not None
        await store.load_history(session_id, limit=HISTORY_LIMIT)

    async def history_only(n: int) -> None:
        await store.load_history(base + long[n % len(long)], limit=HISTORY_LIMIT)

    async def history_any(n: int) -> None:
        await store.load_history(base + 2 + (n * 7919) % (seeded.sessions - 1), limit=HISTORY_LIMIT)

    results = {
        "lookup_miss_plus_history_ms": await timed(
            "thread -> session (cache miss) + history(50)", iterations, cold
        ),
        "lookup_hit_plus_history_ms": await timed(
            "thread -> session (cached) + history(50)", iterations, warm
        ),
        "history_ms": await timed("history(50) alone", iterations, history_only),
        "history_any_session_ms": await timed(
            "history(≤50) alone, any session (most hold ~10)", iterations, history_any
        ),
    }
    if seeded.first_session_messages > 10 * seeded.messages // seeded.sessions:

        async def big(n: int) -> None:
            await store.load_history(seeded.first_session_id, limit=HISTORY_LIMIT)

        results["history_big_session_ms"] = await timed(
            f"history(50) of a session of {seeded.first_session_messages} messages", iterations, big
        )
    results["plans"] = plans
    return results


# ------------------------------------------------------------------ the turn's write, before/after


async def turn_write(
    store: ConversationStore, engine: AsyncEngine, seeded: SeedResult, iterations: int, long: list[int]
) -> dict:
    """A coach's follow-up in a seeded thread, stored with its 50-message history read back."""
    keys = [seeded.session_key(n) for n in long]
    coaches = [seeded.session_user(n) for n in long]
    base = seeded.session_id_base
    counter = iter(range(10**9))

    def args(i: int) -> dict[str, Any]:
        n = next(counter)
        return {
            "user_id": coaches[i],
            "slack_ts": f"1900{n:06d}.000300",
            "text": "How do I start that conversation?",
            "event_id": f"EvBench{n}",
            "title": None,
            "history_limit": HISTORY_LIMIT,
        }

    async def product(n: int) -> None:
        i = n % len(keys)
        # As a turn calls it: asking for the session's lease too (bench/ never answers, so it lapses).
        recorded = await store.record_user_message(
            keys[i], start_session=False, lease_owner=f"bench:{n}", lease_seconds=0.001, **args(i)
        )
        assert isinstance(recorded, RecordedMessage) and recorded.history

    async def former(n: int) -> None:
        """The transaction every turn ran before (and SQLite still runs): cached session id."""
        i = n % len(keys)
        transaction = functools.partial(
            store._write_user_message, key=keys[i], session_id=base + long[i], **args(i)
        )
        recorded = await store._run_write(transaction)
        assert isinstance(recorded, RecordedMessage) and recorded.history

    if engine.dialect.name != "postgresql":
        return {"write_with_history_ms": await timed("turn write + history(50)", iterations, product)}

    async def with_ping(call: Callable[[int], Awaitable[None]], n: int) -> None:
        with pre_ping(engine, True):
            await call(n)

    variants = {
        "before: transaction (BEGIN, 4 statements, COMMIT) + pre-ping": functools.partial(with_ping, former),
        "transaction, ping only when idle": former,
        "one statement + pre-ping": functools.partial(with_ping, product),
        "after: one statement, ping only when idle": product,
    }
    print("  the turn's write + history(50), interleaved (pre-ping: at every checkout, as before):")
    results = await interleaved(iterations, variants)
    before, _, _, after = list(variants)
    return {
        "variants": results,
        "ratio_p50_before_over_after": ratio(results[before]["p50"], results[after]["p50"]),
        "ratio_p99_before_over_after": ratio(results[before]["p99"], results[after]["p99"]),
    }


async def explain_turn_statement(
    store: ConversationStore, engine: AsyncEngine, seeded: SeedResult, long: list[int]
) -> list[str]:
    """EXPLAIN ANALYZE of the one-statement turn (a follow-up), rolled back afterwards."""
    assert store._pg_turn is not None
    key = seeded.session_key(long[-1])
    params = {
        "team_id": key.team_id,
        "channel_id": key.channel_id,
        "thread_ts": key.thread_ts,
        "event_id": "EvExplain",
        "slack_ts": "1999999999.000100",
        "text": "explain me",
        "now": dt.datetime.now(dt.UTC),
        "said_at": dt.datetime.now(dt.UTC),
        "history_limit": HISTORY_LIMIT,
        "user_id": seeded.session_user(long[-1]),
        "lease_owner": "explain",
        "lease_until": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20),
    }
    statement = store._pg_turn[(True, False)]
    async with engine.connect() as conn:
        transaction = await conn.begin()
        rows = await conn.execute(sql_text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement.text}"), params)
        plan = [str(row[0]) for row in rows]
        await transaction.rollback()
    print("  plan: the turn's one statement (a follow-up)")
    for line in plan:
        print(f"      {line}")
    return plan


# ------------------------------------------------------------------ cache replay


@dataclass(frozen=True)
class ReplayedMessage:
    at: float  # virtual seconds since the start of the day
    key: SessionKey
    start: bool
    user: str = "U1"  # the session's coach


def coaching_day(seeded: SeedResult, coaches: int, rng: random.Random) -> list[ReplayedMessage]:
    """A working day of coach messages: conversations of a few turns, a minute or so apart.

    Each conversation starts at a random time in an 8-hour day, in a new thread (one in three)
    or in one of the seeded threads (coming back to an earlier session). Between two messages:
    the model's reply (~5 s) plus reading and typing, log-normal around 45 s (10 s – 10 min).
    """
    day: list[ReplayedMessage] = []
    for c in range(coaches):
        at = rng.uniform(0, 8 * 3600)
        new = rng.random() < 1 / 3
        n = rng.randint(2, seeded.sessions)
        key = (
            SessionKey("T0REPLAY", f"D{c:07d}", f"{1_800_000_000 + c}.000100")
            if new
            else seeded.session_key(n)
        )
        user = "U1" if new else seeded.session_user(n)
        for turn in range(max(1, int(rng.lognormvariate(1.2, 0.6)))):
            day.append(ReplayedMessage(at, key, start=new and turn == 0, user=user))
            at += 5.0 + min(600.0, max(10.0, rng.lognormvariate(3.8, 0.8)))
    day.sort(key=lambda m: m.at)
    return day


async def cache_replay(url: str, seeded: SeedResult, coaches: int) -> dict:
    """Replay a day through a real store whose session cache runs on the day's virtual clock."""
    day = coaching_day(seeded, coaches, random.Random(11))
    results: dict[str, Any] = {"messages": len(day), "coaches": coaches, "by_ttl": {}}
    # Through the real store (real writes) at the configured TTL.
    clock = [0.0]
    cache: CountingTTLCache[SessionKey, int] = CountingTTLCache(
        SESSION_CACHE_MAXSIZE, SESSION_CACHE_TTL_SECONDS, name="sessions", timer=lambda: clock[0]
    )
    engine = create_db_engine(url)
    store = ConversationStore(engine, session_cache=cache)
    stored = 0
    try:
        for n, message in enumerate(day):
            clock[0] = message.at
            recorded = await store.record_user_message(
                message.key,
                user_id=message.user,
                slack_ts=f"{1_900_000_000 + n}.000100",
                text="replayed",
                event_id=f"EvReplay{n}",
                start_session=message.start,
                history_limit=HISTORY_LIMIT,
            )
            stored += recorded is not None
    finally:
        await store.close()
        await engine.dispose()
    results["stored"] = stored
    results["store_cache"] = cache.stats()
    # The same day against the cache alone, as the SQLite turn uses it, at longer TTLs.
    for ttl in REPLAY_TTLS:
        clock[0] = 0.0
        alone: CountingTTLCache[SessionKey, int] = CountingTTLCache(
            SESSION_CACHE_MAXSIZE, ttl, name="sessions", timer=lambda: clock[0]
        )
        for message in day:
            clock[0] = message.at
            if alone.get(message.key) is None:
                alone.set(message.key, 1)
        stats = alone.stats()
        results["by_ttl"][f"{ttl:g}"] = {"hit_rate": round(stats["hit_rate"], 4), "entries": stats["entries"]}
    lookups = cache.stats()["hits"] + cache.stats()["misses"]
    print(
        f"  cache replay: {len(day)} messages of {coaches} coaches over a virtual day; the store's "
        f"session cache (TTL {SESSION_CACHE_TTL_SECONDS:g} s): {lookups} lookups, hit rate "
        f"{cache.stats()['hit_rate']:.1%}; by TTL: "
        + ", ".join(f"{ttl} s {v['hit_rate']:.1%}" for ttl, v in results["by_ttl"].items()),
        flush=True,
    )
    return results


# ------------------------------------------------------------------ weekly report


def weekly_report(url: str, runs: int = 3) -> dict | None:
    """``bot.operations.report.build_weekly_report`` over the seeded week(s), when the module exists."""
    try:
        report = importlib.import_module("bot.operations.report")
    except ImportError as error:
        print(f"  weekly report: not measured ({error})")
        return None
    build = getattr(report, "build_weekly_report", None)
    if build is None:
        print("  weekly report: not measured (bot.operations.report has no build_weekly_report)")
        return None
    engine = create_engine(sync_url(url))
    samples = []
    try:
        now = dt.datetime.now(dt.UTC)
        for _ in range(runs + 1):  # the first one warms the caches and is not counted
            began = time.perf_counter()
            build(engine, now=now, timezone="UTC")
            samples.append((time.perf_counter() - began) * 1000)
    finally:
        engine.dispose()
    summary = summarize(samples[1:])
    print(f"  weekly report (build_weekly_report), {runs} runs after one warm-up: {_fmt(summary)}")
    return {"ms": summary, "first_run_ms": round(samples[0], 3)}


# ------------------------------------------------------------------ main


async def measure(url: str, *, seeded: SeedResult, iterations: int, replay_coaches: int) -> dict:
    engine = create_db_engine(url)
    store = ConversationStore(engine)
    try:
        long = await long_sessions(engine, seeded)
        print(f"  {len(long)} sessions of {HISTORY_LIMIT}+ messages serve the timings below", flush=True)
        results = {
            "sessions_used": len(long),
            "lookups": await lookups(store, engine, seeded, iterations, long),
            "turn_write": await turn_write(store, engine, seeded, iterations, long),
            "session_cache_during_lookups": store.session_cache.stats(),
        }
        if engine.dialect.name == "postgresql":
            results["turn_statement_plan"] = await explain_turn_statement(store, engine, seeded, long)
    finally:
        await store.close()
        await engine.dispose()
    results["cache_replay"] = await cache_replay(url, seeded, replay_coaches)
    return results


#: Issue 5's targets for this scenario: history load p50 per database, the weekly report's time.
HISTORY_TARGET_MS = {"sqlite": 1.0, "postgresql": 2.0}
REPORT_TARGET_MS = 1000.0


def targets(kind: str, results: dict) -> list[dict]:
    """PASS/MISS against the targets, printed and kept in the results file."""
    lookups = results["lookups"]
    report = results.get("weekly_report")
    found = [
        (f"history({HISTORY_LIMIT}) load p50", lookups["history_ms"]["p50"], HISTORY_TARGET_MS[kind]),
        (
            "thread -> session (cached) + history(50) p50",
            lookups["lookup_hit_plus_history_ms"]["p50"],
            HISTORY_TARGET_MS[kind],
        ),
        (
            "thread -> session (miss) + history(50) p50",
            lookups["lookup_miss_plus_history_ms"]["p50"],
            HISTORY_TARGET_MS[kind],
        ),
        ("weekly report p50", report["ms"]["p50"] if report else None, REPORT_TARGET_MS),
    ]
    checks = []
    for name, value, limit in found:
        verdict = "PASS" if value is not None and value <= limit else "MISS"
        shown = "-" if value is None else f"{value:.3f}"
        print(f"  target  {name:<48} {shown:>10} ≤ {limit:g} ms  {verdict}")
        checks.append({"name": name, "value": value, "limit": limit, "unit": "ms", "result": verdict})
    return checks


def run_backend(db: BenchDatabase, args: argparse.Namespace) -> dict:
    began = time.perf_counter()
    upgrade_database(db.url)
    seeded = seed(db.url, sessions=args.sessions, messages=args.messages, big_share=args.big_session_share)
    results = asyncio.run(
        measure(db.url, seeded=seeded, iterations=args.iterations, replay_coaches=args.replay_coaches)
    )
    results["weekly_report"] = weekly_report(db.url)
    results["checks"] = targets(db.kind, results)
    document = {
        "scenario": f"large_db_{db.kind}",
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1),
        "machine": machine_info(db, seeded),
        "iterations": args.iterations,
        "metrics": results,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"large_db_{db.kind}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"  wrote {path}")
    return document


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
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=2_000)
    parser.add_argument(
        "--big-session-share",
        type=float,
        default=0.0,
        help="put this share of all messages in session 1 (0: it is sized like the others)",
    )
    parser.add_argument("--replay-coaches", type=int, default=1_000, help="coaches in the replayed day")
    args = parser.parse_args()
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        print(f"{backend}:", flush=True)
        with temporary_database(None if backend == "sqlite" else args.postgres_url) as db:
            run_backend(db, args)


if __name__ == "__main__":
    main()
