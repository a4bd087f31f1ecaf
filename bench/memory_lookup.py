"""What memory adds to a turn's event → model request, measured in-process (SQLite and PostgreSQL).

Through the real ``MemoryService`` on the app's engine, with 500 coaches who each have goals,
open commitments, remembered items and summaries (and one of them the coach measured):

- a new session's memory text: the one UNION ALL query plus rendering (the uncached path);
- a later turn's: the per-coach cache;

interleaved with a turn's own session lookup (``ConversationStore.find_session_id``, uncached)
as the yardstick. The turn scenario (``python -m bench --scenario turn --app-env MEMORY=off``
and ``MEMORY=on``) measures the same end to end, where the machine's noise is larger::

    .venv/bin/python -m bench.memory_lookup --backend both

Writes ``bench/results/memory_lookup_<backend>.json``. Holds no tests.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from pathlib import Path

from bench.database import BenchDatabase, temporary_database
from bench.storage_lookup import interleaved
from bot.memory.context import MemoryContext
from bot.memory.service import MemoryService
from bot.memory.wrap_up import WrapUps
from storage.conversations import ConversationStore, SessionKey
from storage.engine import create_db_engine
from storage.memory import MemoryStore
from storage.memory_records import ExtractedCommitment, Extraction, WrapTarget
from storage.migrate import upgrade_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUDGET = 12_000


async def seed(store: ConversationStore, memory: MemoryStore, coaches: int) -> None:
    for n in range(coaches):
        for session in range(2):
            thread = f"17000{n:05d}.{session:06d}"
            recorded = await store.record_user_message(
                SessionKey("T1", f"D{n}", thread),
                user_id=f"U{n}",
                slack_ts=thread,
                text="My goal is to delegate more.",
                event_id=None,
                start_session=True,
            )
            assert recorded is not None
            target = WrapTarget(recorded.session_id, "T1", f"U{n}", f"D{n}", thread, True)
            claimed = await memory.claim_wrap_up(target)
            assert claimed is not None
            extraction = Extraction(
                summary=f"Session {session}: you planned how to hand over the weekly report to Sam.",
                goals=(f"Delegate the weekly report ({session})",),
                commitments=(
                    ExtractedCommitment(
                        "I'll hand the report to Sam by Friday", dt.date(2026, 12, 4), "open"
                    ),
                ),
                remember=("Prefers short answers",),
            )
            await memory.save_extraction(claimed, target, extraction)


async def measure(url: str, coaches: int, iterations: int) -> dict:
    engine = create_db_engine(url)
    store = ConversationStore(engine)
    memory_store = MemoryStore(engine, sqlite_writer=store.sqlite_writer)
    context = MemoryContext(memory_store)
    service = MemoryService(WrapUps(memory_store, None, context), context, memory_share=5)  # type: ignore[arg-type]
    try:
        began = time.perf_counter()
        await seed(store, memory_store, coaches)
        print(f"  seeded {coaches} coaches in {time.perf_counter() - began:.1f} s", flush=True)

        async def new_session(n: int) -> object:
            return await service.text_for("T1", f"U{n % coaches}", new_session=True, prompt_budget=BUDGET)

        async def later_turn(n: int) -> object:
            return await service.text_for("T1", "U0", new_session=False, prompt_budget=BUDGET)

        async def session_lookup(n: int) -> object:
            store.session_cache.clear()
            return await store.find_session_id(
                SessionKey("T1", f"D{n % coaches}", f"17000{n % coaches:05d}.000000")
            )

        results = await interleaved(
            iterations,
            {
                "memory: new session (one query + render)": new_session,
                "memory: later turn (per-coach cache)": later_turn,
                "yardstick: thread -> session lookup, uncached": session_lookup,
            },
        )
    finally:
        await memory_store.close()
        await store.close()
        await engine.dispose()
    return {name: dict(summary) for name, summary in results.items()}


def run_backend(db: BenchDatabase, args: argparse.Namespace) -> dict:
    print(f"== {db.kind}", flush=True)
    upgrade_database(db.url)
    metrics = asyncio.run(measure(db.url, args.coaches, args.iterations))
    document = {
        "scenario": f"memory_lookup_{db.kind}",
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "coaches": args.coaches,
        "metrics": metrics,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"memory_lookup_{db.kind}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"  wrote {path}")
    return document


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--coaches", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=1_000)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with temporary_database(args.postgres_url if backend == "postgresql" else None) as db:
            run_backend(db, args)


if __name__ == "__main__":
    main()
