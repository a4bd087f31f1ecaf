"""The ``coachbot`` command: serve, check, migrate, demo, try, report.

A setting that cannot work ends the command with one ``coachbot: error: …`` line per
problem (exit 2 for unusable settings, 1 for a service that refuses them), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from bot.assembly.config import Settings, SettingsError
from bot.operations.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger("coachbot")


def _error(message: str) -> None:
    print(f"coachbot: error: {message}", file=sys.stderr)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.assembly.serve import serve_forever
    from bot.operations.check import describe_database_error, safe_database_url
    from jobs.app_jobs import report_schedule
    from storage.migrate import SchemaStateError

    missing = settings.missing_for_serving()
    if args.socket_mode and not settings.slack_app_token:
        missing.append("SLACK_APP_TOKEN")
    for name in missing:
        _error(f"{name} is not set; coachbot serve needs it")
    if missing:
        return 2
    try:
        if settings.scheduler_enabled:
            report_schedule(settings)  # a bad REPORT_TIMEZONE / REPORT_TIME, before anything starts
        if args.no_migrate:
            _require_current_schema(settings.database_url)
        serve_forever(settings, socket_mode=args.socket_mode, migrate=not args.no_migrate)
    except SettingsError as error:
        for problem in error.problems:
            _error(problem)
        return 2
    except SQLAlchemyError as error:
        shown = safe_database_url(settings.database_url)
        _error(f"DATABASE_URL: cannot use {shown} ({describe_database_error(error)})")
        return 1
    except SchemaStateError as error:
        _error(f"DATABASE_URL: {error}")
        return 1
    return 0


def _require_current_schema(database_url: str) -> None:
    """--no-migrate: the database must answer and be at this code's revision already."""
    from storage.migrate import current_revision, head_revision

    alembic = logging.getLogger("alembic.runtime.migration")
    level = alembic.level
    alembic.setLevel(logging.WARNING)  # only reading the revision: no "Context impl…" lines
    try:
        revision, head = current_revision(database_url, connect_timeout=10), head_revision()
    finally:
        alembic.setLevel(level)
    if revision != head:
        raise SettingsError(
            f"DATABASE_URL: the database is at revision {revision or 'none'}, this code needs {head}; "
            "run `coachbot migrate` (or serve without --no-migrate)"
        )


def _check(settings: Settings, args: argparse.Namespace) -> int:
    """One line per problem and exit 1; a short summary and exit 0 when everything works."""
    import asyncio

    from bot.operations.check import run_checks

    findings = asyncio.run(run_checks(settings))
    problems = [finding for finding in findings if not finding.ok]
    for finding in problems or findings:
        print(finding.line if problems else f"ok  {finding.line}")
    return 1 if problems else 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from storage.migrate import current_revision, upgrade_database

    upgrade_database(settings.database_url)
    logger.info("Database is at revision %s", current_revision(settings.database_url))
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging("WARNING")  # the transcript is the demo's output; it prints its own timings
    from devkit.demo import run_demo

    return run_demo(data_dir=args.data_dir)


def _try(settings: Settings, args: argparse.Namespace) -> int:
    """A local Slack in the browser: the app, the emulator and (without OPENAI_API_KEY) the fake model."""
    configure_logging("WARNING")  # the page is the output; the terminal keeps the one URL readable
    from devkit.tryout import run_try

    return run_try(settings, data_dir=args.data_dir, port=args.port)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    """The weekly report now: printed with its chart written (--dry-run), or posted (--post).

    Claims nothing: an operator asking for a report gets one, even if the scheduled job already
    posted this week's. With OAuth installs each workspace has its own (``--team``), as the
    scheduled job posts them: its own figures, to its own channel, with its own installation's token.
    """
    import asyncio
    from datetime import UTC, datetime
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from bot.operations.report import build_weekly_report, render_chart, report_text
    from jobs.app_jobs import report_schedule
    from jobs.database import create_jobs_engine

    if args.team and not settings.oauth_installs:
        logger.error(
            "--team is for OAuth installs (SLACK_CLIENT_ID); SLACK_BOT_TOKEN's report is its one workspace's"
        )
        return 2
    try:
        report_schedule(settings)  # a bad REPORT_TIMEZONE is named here, not in a traceback
    except SettingsError as error:
        _error(str(error))
        return 2
    engine = create_jobs_engine(settings.database_url)
    try:
        channel, problem = _post_target(settings, args, engine) if args.post else ("", None)
        if problem:
            logger.error(problem)
            return 2
        report = build_weekly_report(engine, now=datetime.now(UTC), timezone=settings.report_timezone)
    except SQLAlchemyError as error:
        logger.error("Could not read the database (%s); has `coachbot migrate` run?", type(error).__name__)
        return 1
    finally:
        engine.dispose()
    if args.team:
        report = report.of_team(args.team)
    chart = render_chart(report)
    if args.dry_run:
        Path(args.chart).write_bytes(chart)
        print(report_text(report))
        print(f"\nChart: {args.chart}")
        return 0
    return asyncio.run(_post_report(settings, channel, report, chart, team=args.team))


def _post_target(settings: Settings, args: argparse.Namespace, engine: Engine) -> tuple[str, str | None]:
    """Where --post posts, and what stops it: (channel, problem or None).

    OAuth installs: one workspace's report (``--team``), to the channel its admins set
    (``/coach admin report``), else REPORT_CHANNEL_ID, as the scheduled job does.
    """
    from storage.workspaces import installed_teams, report_channels

    if not settings.oauth_installs:
        channel = args.channel or settings.report_channel_id or ""
        if not settings.slack_bot_token or not channel:
            return channel, "Cannot post without: SLACK_BOT_TOKEN and REPORT_CHANNEL_ID (or --channel)"
        return channel, None
    if not args.team:
        teams = ", ".join(installed_teams(engine)) or "none yet"
        return "", (
            f"With OAuth installs each workspace has its own report: --post needs --team (installed: {teams})"
        )
    channel = args.channel or report_channels(engine).get(args.team) or settings.report_channel_id or ""
    if not settings.slack_client_secret or not channel:
        return channel, (
            f"Cannot post without: SLACK_CLIENT_SECRET and a report channel for {args.team} "
            "(its admins' `/coach admin report`, REPORT_CHANNEL_ID or --channel)"
        )
    return channel, None


async def _post_report(
    settings: Settings, channel: str, report: object, chart: bytes, *, team: str | None
) -> int:
    """Post with SLACK_BOT_TOKEN, or (``team``) with that workspace's installation, as the job does."""
    from slack_sdk.errors import SlackApiError, SlackRequestError
    from slack_sdk.web.async_client import AsyncWebClient
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.assembly.app import build_slack_client
    from bot.installs.assembly import build_installs
    from bot.operations.report import WeeklyReport, post_weekly_report
    from storage.engine import create_db_engine

    assert isinstance(report, WeeklyReport)
    client = build_slack_client(settings)
    engine: AsyncEngine | None = None
    try:
        poster: AsyncWebClient | None = client
        if team:
            engine = create_db_engine(settings.database_url)
            _, installs = build_installs(settings, engine, client)
            poster = await installs.client_for(team) if installs is not None else None
        if poster is None:
            logger.error("The app has no installation in workspace %s, so nothing was posted", team)
            return 2
        await post_weekly_report(poster, channel, report, chart)
    except (SlackApiError, SlackRequestError) as error:
        detail = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
        logger.error("Slack refused the report: %s", detail)
        return 1
    except SQLAlchemyError as error:
        logger.error("Could not read the installations (%s)", type(error).__name__)
        return 1
    finally:
        if client.session is not None:
            await client.session.close()
        if engine is not None:
            await engine.dispose()
    print(f"Posted the weekly report {report.period}{f' of {team}' if team else ''} to {channel}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coachbot", description="A Slack AI coaching service.")
    parser.add_argument("--version", action="version", version=f"coachbot {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (or Socket Mode) for Slack")
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect over Socket Mode (SLACK_APP_TOKEN)"
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database on start")
    serve.set_defaults(run=_serve)

    check = commands.add_parser(
        "check", help="try every setting against Slack, the model, the database and the file store"
    )
    check.set_defaults(run=_check)

    migrate = commands.add_parser("migrate", help="create or upgrade the database, indexes included")
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="a conversation against the local Slack and OpenAI fakes")
    demo.add_argument("--data-dir", default="demo-data", help="where the demo's SQLite database lives")
    demo.set_defaults(run=_demo)

    tryout = commands.add_parser(
        "try", help="talk to coachbot in a local Slack in your browser (a real model with OPENAI_API_KEY)"
    )
    tryout.add_argument("--data-dir", default="try-data", help="where its SQLite database and files live")
    tryout.add_argument("--port", type=int, default=0, help="the page's port (default: any free one)")
    tryout.set_defaults(run=_try)

    report = commands.add_parser("report", help="the weekly coaching report, now")
    action = report.add_mutually_exclusive_group(required=True)
    action.add_argument("--dry-run", action="store_true", help="print the report and write its chart")
    action.add_argument("--post", action="store_true", help="post it to REPORT_CHANNEL_ID now")
    report.add_argument("--chart", default="weekly-report.png", help="where --dry-run writes the PNG")
    report.add_argument("--channel", help="post here instead of REPORT_CHANNEL_ID")
    report.add_argument(
        "--team", help="OAuth installs: this workspace's own report (T…), posted with its installation"
    )
    report.set_defaults(run=_report)
    return parser


def _version() -> str:
    try:
        return version("coachbot")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        for problem in error.problems:
            _error(problem)
        return 2
    configure_logging(settings.log_level)
    return args.run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
