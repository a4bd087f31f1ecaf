"""What a turn's search of the session's files costs: ``AttachmentTextIndex.search`` on ~1,000 chunks.

A scratch database gets one session with 10 files of 100 chunks (about 1,000 chunks, as a long
transcript or a few reports give) and 200 other sessions with 100 chunks each, so the index is
shared as in production. Then each query runs 50 times through the real index on the app's engine
(p50/p95), and the indexing itself is timed. The chunk text is synthetic: Zipf-distributed words
(a query word is in a fraction of the chunks, as in prose), or ``--dense`` (every query word in
nearly every chunk: the worst case, where ranking has to score the whole session).

    .venv/bin/python -m bench.attachment_search                     # SQLite and PostgreSQL
    .venv/bin/python -m bench.attachment_search --backend sqlite --dense

Writes ``bench/results/attachment_search_<backend>.json``. Holds no tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.database import temporary_database
from bot.attachments.chunking import Chunk
from storage.attachment_text import AttachmentTextIndex
from storage.engine import create_db_engine
from storage.migrate import upgrade_database
from storage.models import attachments, coaching_sessions

RESULTS = Path(__file__).resolve().parent / "results"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
_QUERY_WORDS = (
    "team budget report delegate hiring manager feedback review goals quarter engineer offsite "
    "visibility ownership meeting product roadmap launch customer incident retro promotion salary "
    "conflict trust coaching career growth plan deadline scope risk priority"
)
QUERY_WORDS = _QUERY_WORDS.split()
QUERIES = {
    "matching question": "How should Ada delegate the budget report to Bob?",
    "another question": "what did the review say about promotion and salary",
    "nothing matches": "xylophone quartet",
    "no useful words": "what do you think of this?",
}
RUNS = 50
LIMIT = 18  # what a 4,000-token share asks for (bot.attachments.reading)


class Text:
    """Synthetic chunk text: 220 words each."""

    def __init__(self, dense: bool, seed: int = 1) -> None:
        self._random = random.Random(seed)
        self._dense = dense
        self._filler = [f"w{i}" for i in range(3000)]
        vocabulary = list(self._filler)
        for i, word in enumerate(QUERY_WORDS):  # ranks 20..600 of a Zipf vocabulary
            vocabulary.insert(20 + i * 20, word)
        self._vocabulary = vocabulary
        self._weights = [1 / (rank + 1) for rank in range(len(vocabulary))]

    def chunk(self) -> str:
        if self._dense:
            words = [
                self._random.choice(QUERY_WORDS)
                if self._random.random() < 0.15
                else self._random.choice(self._filler)
                for _ in range(220)
            ]
        else:
            words = self._random.choices(self._vocabulary, self._weights, k=220)
        return " ".join(words) + "."


async def measure(url: str, dense: bool) -> dict[str, Any]:
    engine = create_db_engine(url)
    index = AttachmentTextIndex(engine)
    text = Text(dense)
    try:
        async with engine.begin() as conn:
            sessions = [
                (
                    await conn.execute(
                        insert(coaching_sessions)
                        .values(team_id="T", channel_id="C", thread_ts=f"{i}.0", user_id="U")
                        .returning(coaching_sessions.c.id)
                    )
                ).scalar_one()
                for i in range(201)
            ]
        target = sessions[0]
        index_ms: list[float] = []
        for session in sessions:
            for number in range(10 if session == target else 1):
                async with engine.begin() as conn:
                    attachment = (
                        await conn.execute(
                            insert(attachments)
                            .values(
                                session_id=session,
                                slack_file_id=f"F{session}-{number}",
                                team_id="T",
                                user_id="U",
                                name=f"file{number}.txt",
                                mime_type="text/plain",
                                status="stored",
                            )
                            .returning(attachments.c.id)
                        )
                    ).scalar_one()
                chunks = [Chunk(i, text.chunk()) for i in range(100)]
                started = time.perf_counter()
                await index.add_chunks(attachment, session, chunks)
                index_ms.append((time.perf_counter() - started) * 1000)
        results: dict[str, Any] = {"index_100_chunks_ms_p50": round(statistics.median(index_ms), 1)}
        for label, query in QUERIES.items():
            await index.search(target, query, LIMIT)  # warm
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                await index.search(target, query, LIMIT)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results[label] = {
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            }
        return results
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--dense", action="store_true", help="every query word in nearly every chunk")
    options = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if options.backend == "both" else (options.backend,)
    for backend in backends:
        with temporary_database(PG_SERVER if backend == "postgresql" else None) as database:
            upgrade_database(database.url)
            results = asyncio.run(measure(database.url, options.dense))
        results = {"backend": backend, "dense": options.dense, "chunks_in_session": 1000, **results}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"attachment_search_{backend}.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
