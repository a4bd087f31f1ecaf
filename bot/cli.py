"""The ``coachbot`` command: serve, migrate, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.config import Settings, SettingsError
from bot.logs import configure_logging

logger = logging.getLogger("coachbot")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.serve import serve_forever

    missing = settings.missing_for_serving()
    if args.socket_mode and not settings.slack_app_token:
        missing.append("SLACK_APP_TOKEN")
    if missing:
        logger.error("Cannot serve without: %s", ", ".join(missing))
        return 2
    serve_forever(settings, socket_mode=args.socket_mode, migrate=not args.no_migrate)
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from storage.migrate import current_revision, upgrade_database

    upgrade_database(settings.database_url)
    logger.info("Database is at revision %s", current_revision(settings.database_url))
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    configure_logging("WARNING")  # the transcript is the demo's output; it prints its own timings
    from bot.demo import run_demo

    return run_demo(data_dir=args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coachbot", description="A Slack AI coaching service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (or Socket Mode) for Slack")
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect over Socket Mode (SLACK_APP_TOKEN)"
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database on start")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="create or upgrade the database, indexes included")
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="a conversation against the local Slack and OpenAI fakes")
    demo.add_argument("--data-dir", default="demo-data", help="where the demo's SQLite database lives")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"coachbot: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    return args.run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
