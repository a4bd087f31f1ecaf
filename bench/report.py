"""Tables for the terminal and JSON files for later comparison, each with the machine they ran on."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.database import BenchDatabase
from bench.harness import Check, Options, Row, ScenarioResult
from bench.processes import REPO_ROOT
from bench.scenarios import READS_CHECK
from bench.seed import SeedResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_LIBRARIES = (
    "slack_bolt",
    "slack_sdk",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "aiohttp",
    "openai",
    "SQLAlchemy",
    "asyncpg",
    "aiosqlite",
)


def machine_info(
    database: BenchDatabase, seeded: SeedResult | None = None, app_root: Path = REPO_ROOT
) -> dict[str, Any]:
    """Enough to tell whether two result files are comparable, the database's seeded size included."""
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": _proc_value("/proc/cpuinfo", "model name"),
        "memory_total": _proc_value("/proc/meminfo", "MemTotal"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database.kind,
        "database_server_version": database.server_version,
        # What --seed-messages loaded before the app started (None: the database started empty).
        "seeded": seeded.to_json() if seeded is not None else None,
        "libraries": {name: _version(name) for name in _LIBRARIES},
        "git_commit": _git("rev-parse", "--short", "HEAD", cwd=app_root),
        # Uncommitted changes to the code under test (bench/ itself excluded).
        "git_dirty": bool(
            _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", cwd=app_root)
        ),
        "app_root": str(app_root),
    }


def _proc_value(path: str, key: str) -> str | None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str, cwd: Path = REPO_ROOT) -> str | None:
    """Read-only git queries: which code was measured (others may be editing the tree meanwhile)."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def describe_machine(machine: dict[str, Any]) -> str:
    db = machine["database"] + (
        f" {machine['database_server_version']}" if machine["database_server_version"] else ""
    )
    return (
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_total']} RAM, "
        f"Python {machine['python']}, database {db}, "
        f"commit {machine['git_commit']}{' + uncommitted app changes' if machine['git_dirty'] else ''}"
    )


def describe_seed(seeded: dict[str, Any] | None) -> str:
    if not seeded:
        return "empty database"
    return (
        f"database seeded with {seeded['sessions']} sessions / {seeded['messages']} messages "
        f"(loaded in {seeded['seconds']:.1f} s)"
    )


# ------------------------------------------------------------------ terminal tables


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" if isinstance(v, dict) else f"{k} {v}" for k, v in value.items())
    return str(value)


def render_scenario(result: ScenarioResult) -> str:
    head = f"\n== {result.name}: {result.description} ({result.duration_s:.1f} s)"
    if result.error:
        head += f"\n   ERROR: {result.error}"
    label_width = max([len(row.label) for row in result.rows] + [40])
    lines = [
        head,
        f"   {'(ms unless noted)':<{label_width}}  {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}",
    ]
    for row in result.rows:
        lines.append(_render_row(row, label_width))
    return "\n".join(lines)


def _render_row(row: Row, width: int) -> str:
    if row.summary is None:
        return f"   {row.label:<{width}}  {_plain(row.value)}"
    s = row.summary
    cells = (
        _num(s.get("count")),
        _num(s.get("p50")),
        _num(s.get("p95")),
        _num(s.get("p99")),
        _num(s.get("max")),
    )
    return f"   {row.label:<{width}}  {cells[0]:>5} {cells[1]:>8} {cells[2]:>8} {cells[3]:>8} {cells[4]:>8}"


def summary_checks(results: list[ScenarioResult]) -> list[tuple[str, Check]]:
    """Each scenario's targets, with the per-scenario conversations.* checks folded into one."""
    rows: list[tuple[str, Check]] = []
    reads = turns = 0
    for result in results:
        for check in result.checks:
            if check.name == READS_CHECK:
                reads += int(result.metrics.get("conversations_reads", 0))
                turns += int(result.metrics.get("turns_measured", 0))
            else:
                rows.append((result.name, check))
    if turns:
        rows.append(("all", Check(READS_CHECK, reads / turns, 0.0, "reads")))
    return rows


def _kind(options: Options) -> str:
    return "quick" if options.quick else "full"


def render_summary(results: list[ScenarioResult], options: Options, machine: dict[str, Any]) -> str:
    lines = [
        "\n== summary",
        f"   model: ttft {options.ttft} s, {options.tps} tokens/s; {_kind(options)} run; "
        f"{describe_seed(machine.get('seeded'))}",
        f"   {describe_machine(machine)}",
        f"   {'scenario':<9} {'target':<52} {'value':>10} {'limit':>8}  result",
    ]
    for scenario, check in summary_checks(results):
        value = (
            "-" if check.value is None else f"{check.value:.1f}" if check.unit == "ms" else f"{check.value:g}"
        )
        limit = f"{check.limit:g}" + (" ms" if check.unit == "ms" else "")
        verdict = "PASS" if check.passed else "MISS"
        lines.append(f"   {scenario:<9} {check.name:<52} {value:>10} {limit:>8}  {verdict}")
    for result in results:
        lines.extend(f"   {line}" for line in result.highlights)
        if result.error:
            lines.append(f"   {result.name:<9} ERROR: {result.error}")
    return "\n".join(lines)


# ------------------------------------------------------------------ JSON


def results_tag(machine: dict[str, Any]) -> str:
    """``sqlite`` or ``postgresql``, plus the seeded size: runs on other databases keep their files."""
    seeded = machine.get("seeded")
    return machine["database"] + (f"-{seeded['messages']}" if seeded else "")


def write_json(
    result: ScenarioResult, options: Options, machine: dict[str, Any], tag: str | None = None
) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{tag or results_tag(machine)}-{result.name}.json"
    document = {
        "scenario": result.name,
        "description": result.description,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(result.duration_s, 3),
        "options": {"ttft_s": options.ttft, "tokens_per_second": options.tps, "quick": options.quick},
        "machine": machine,
        "metrics": result.metrics,
        "checks": [check.to_json() for check in result.checks],
        "error": result.error,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
