"""``python -m bench``: coachbot measured as it runs in production, in its own process.

Starts the fake OpenAI, the Slack emulator and ``coachbot serve`` (plus, for ``floor``, a minimal
Bolt app) on 127.0.0.1, drives them from this process with signed Slack events, prints a table
per scenario and a summary against the targets, and writes bench/results/<scenario>.json.
Every child is stopped at the end, on errors and on Ctrl-C too; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp

from bench.database import temporary_database
from bench.harness import Harness, Options, ScenarioError, ScenarioResult
from bench.load import DevkitClient, EventFactory, EventSender, client_session
from bench.processes import (
    REPO_ROOT,
    SIGNING_SECRET,
    DevkitServer,
    HttpApp,
    ProcessError,
    ProcessRegistry,
    start_coachbot,
    start_fake_openai,
    start_slack_emulator,
)
from bench.registry import DEFAULT_SCENARIOS, SCENARIOS
from bench.report import machine_info, render_scenario, render_summary, write_json
from bench.seed import SeedResult, SeedSpec, seed_database
from storage.migrate import upgrade_database

#: Messages of the seeded thread the turn scenario continues: its history is read at every turn.
PROBE_MESSAGES = 40


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted([*SCENARIOS, "attachments"]),
        help="run this scenario (repeatable); default: "
        + ", ".join(DEFAULT_SCENARIOS)
        + "; attachments (Slack file → S3, bench/attachments.py) runs only when asked for",
    )
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="attachments: the generated file's size (default 1024)"
    )
    parser.add_argument("--ttft", type=float, default=0.4, help="the fake model's time to first token, s")
    parser.add_argument("--tps", type=float, default=60.0, help="the fake model's tokens per second")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a postgresql:// server URL: a fresh coachbot_bench_<random> database is created on it "
        "and dropped afterwards (default: a fresh SQLite file in a temp dir)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument(
        "--seed-messages",
        type=int,
        default=0,
        metavar="N",
        help="before the app starts, migrate the database and bulk-load N messages (bench/seed.py); "
        "the turn scenario's long thread then continues a seeded thread of 40 messages",
    )
    parser.add_argument(
        "--tag", default=None, help="results file prefix (default: the database kind and seeded size)"
    )
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for coachbot serve (repeatable), e.g. SLACK_RATE_BUDGET=false",
    )
    parser.add_argument(
        "--slack-limits",
        choices=("on", "off"),
        default=None,
        help="whether the Slack emulator enforces Slack's rate tiers (default: on when a scenario "
        "needs them: turn, burst and workspace_200 run the product's default path; else off). "
        "off also runs coachbot with SLACK_RATE_BUDGET=false: the lenient run",
    )
    parser.add_argument(
        "--app-root",
        type=Path,
        default=REPO_ROOT,
        help="run coachbot from this checkout (e.g. a git worktree of an earlier commit) to compare a "
        "change before and after; the harness, fakes and seeding stay this checkout's",
    )
    parser.add_argument(
        "--seed-sessions", type=int, default=None, metavar="M", help="sessions to spread them over (N // 10)"
    )
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.app_env):
        parser.error("--app-env takes NAME=VALUE")
    if args.seed_messages < 0:
        parser.error("--seed-messages must not be negative")
    if args.seed_sessions is None:
        args.seed_sessions = max(args.seed_messages // 10, 1)
    elif args.seed_messages and not 1 <= args.seed_sessions < 1_000_000:
        parser.error("--seed-sessions must be between 1 and 999,999")
    if args.seed_messages and args.seed_messages < PROBE_MESSAGES:
        parser.error(f"--seed-messages must be 0 or at least {PROBE_MESSAGES}")
    return args


def seed(url: str, messages: int, sessions: int) -> SeedResult:
    """Migrate, then bulk-load, before any process under test opens the database."""
    print(f"seeding {sessions} sessions / {messages} messages…", flush=True)
    began = time.perf_counter()
    upgrade_database(url)
    migrated = time.perf_counter() - began
    seeded = seed_database(url, SeedSpec(sessions, messages, first_session_messages=PROBE_MESSAGES))
    print(
        f"seeded {seeded.sessions} sessions / {seeded.messages} messages into {seeded.backend} "
        f"in {seeded.seconds:.1f} s (migration {migrated:.1f} s before); the turn scenario continues "
        f"session {seeded.first_session_id} ({seeded.first_session_messages} seeded messages)",
        flush=True,
    )
    return seeded


async def run_scenarios(
    names: list[str],
    options: Options,
    registry: ProcessRegistry,
    app: HttpApp,
    slack: DevkitServer,
    model: DevkitServer,
    machine: dict[str, Any],
    seeded: SeedResult | None,
    tag: str | None = None,
    database_url: str | None = None,
) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    async with client_session() as session:
        harness = Harness(
            options=options,
            registry=registry,
            app=app,
            slack=slack,
            model=model,
            session=session,
            slack_api=DevkitClient(session, slack.origin),
            model_api=DevkitClient(session, model.origin),
            sender=EventSender(session, app.events_url),
            factory=EventFactory(SIGNING_SECRET, secrets.token_hex(3)),
            seeded=seeded,
            database_url=database_url,
        )
        for name in names:
            result = await _run_one(name, harness)
            results.append(result)
            path = write_json(result, options, machine, tag)  # at once: a later failure keeps this one
            print(f"   wrote {path.relative_to(REPO_ROOT)}", flush=True)
            if not app.process.alive:
                raise app.process.fail("exited during the run")
    return results


async def _run_one(name: str, harness: Harness) -> ScenarioResult:
    scenario = SCENARIOS[name]
    budget = scenario.budget_s(harness.options.quick)
    print(f"\n-- running {name} (at most {budget:.0f} s)…", flush=True)
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(scenario.run(harness), budget)
    except TimeoutError:
        result = ScenarioResult(name, "", error=f"did not finish within {budget:.0f} s")
    except (ScenarioError, ProcessError, aiohttp.ClientError) as error:
        result = ScenarioResult(name, "", error=f"{type(error).__name__}: {error}")
    result.duration_s = time.perf_counter() - started
    print(render_scenario(result), flush=True)
    return result


def slack_limits(choice: str | None, names: list[str]) -> bool:
    """``--slack-limits``, or on exactly when one of the scenarios needs Slack's rate tiers."""
    if choice is not None:
        return choice == "on"
    return any(SCENARIOS[name].slack_limits for name in names)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM gets the same clean-up as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = list(dict.fromkeys(args.scenario or DEFAULT_SCENARIOS))
    attachments_status = 0
    if "attachments" in names:  # its own processes (moto, the emulator, one worker per mode)
        from bench import attachments

        names.remove("attachments")
        attachments_status = attachments.run(args.size_mb, app_root=args.app_root.resolve())
        if not names:
            return attachments_status
    options = Options(ttft=args.ttft, tps=args.tps, quick=args.quick)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    registry = ProcessRegistry()
    try:
        with temporary_database(args.database_url) as database:
            try:
                seeded = None
                if args.seed_messages:
                    seeded = seed(database.url, args.seed_messages, args.seed_sessions)
                print(
                    f"starting the fake OpenAI, the Slack emulator and coachbot ({database.kind})…",
                    flush=True,
                )
                model = start_fake_openai(registry, options.ttft, options.tps)
                rate_limits = slack_limits(args.slack_limits, names)
                slack = start_slack_emulator(registry, rate_limits=rate_limits)
                # A lenient emulator is a workspace without tiers: coachbot need not pace itself.
                app_env = {} if rate_limits else {"SLACK_RATE_BUDGET": "false"}
                app_env.update(item.split("=", 1) for item in args.app_env)
                app = start_coachbot(registry, slack, model, database.url, args.app_root.resolve(), app_env)
                machine = machine_info(database, seeded, args.app_root.resolve())
                results = asyncio.run(
                    run_scenarios(
                        names, options, registry, app, slack, model, machine, seeded, args.tag, database.url
                    )
                )
            finally:
                registry.stop_all()  # before the database is dropped
    except KeyboardInterrupt:
        print("\ninterrupted: every process the bench started has been stopped", file=sys.stderr)
        return 130
    except ProcessError as error:
        print(f"\nbench: {error}", file=sys.stderr)
        return 1
    print(render_summary(results, options, machine))
    return 1 if attachments_status or any(result.error for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
