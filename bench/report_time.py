"""Hand-run timing of the weekly report over a big database (holds no tests; pytest collects nothing).

Seeds 100k sessions / 1M messages with ``bench.seed`` (60 days of history, so a week holds about
an eighth of it), then times ``bot.operations.report.build_weekly_report`` exactly as the scheduled job runs
it (the jobs' own synchronous engine), and the chart on top::

    .venv/bin/python -m bench.report_time                            # SQLite, then PostgreSQL
    .venv/bin/python -m bench.report_time --backend sqlite --messages 200000

Target: the figures in <= 1 s. PostgreSQL runs on a throwaway database on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from bench.database import temporary_database
from bench.seed import SeedSpec, seed_database
from bot.operations.report import build_weekly_report, render_chart
from jobs.database import create_jobs_engine
from storage.migrate import upgrade_database

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def measure(url: str, *, sessions: int, messages: int, runs: int) -> dict[str, float]:
    upgrade_database(url)
    seeded = seed_database(url, SeedSpec(sessions, messages))
    print(f"  seeded {sessions:,} sessions / {messages:,} messages in {seeded.seconds:.1f} s")
    engine = create_jobs_engine(url)
    try:
        now = datetime.now(UTC)
        samples = []
        report = None
        for _ in range(runs):
            began = time.perf_counter()
            report = build_weekly_report(engine, now=now, timezone="Europe/Berlin")
            samples.append((time.perf_counter() - began) * 1000)
        assert report is not None
        began = time.perf_counter()
        render_chart(report)
        chart_ms = (time.perf_counter() - began) * 1000
    finally:
        engine.dispose()
    week = sum(w.messages for w in report.workspaces)
    print(
        f"  report: first {samples[0]:.0f} ms, min {min(samples):.0f} ms, median "
        f"{statistics.median(samples):.0f} ms, max {max(samples):.0f} ms over {runs} runs "
        f"({week:,} messages in the week, {len(report.workspaces)} workspaces); chart {chart_ms:.0f} ms"
    )
    return {"first_ms": samples[0], "min_ms": min(samples), "median_ms": statistics.median(samples)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-server", default=PG_SERVER, help="admin URL of the PostgreSQL server")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(f"{backend}:")
        with temporary_database(args.pg_server if backend == "postgresql" else None) as database:
            measure(database.url, sessions=args.sessions, messages=args.messages, runs=args.runs)


if __name__ == "__main__":
    main()
