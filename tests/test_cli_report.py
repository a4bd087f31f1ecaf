"""`coachbot report`: --dry-run prints the report and writes the chart; --post posts it now."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select

from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from storage.models import chat_messages, coaching_sessions, job_runs

REPORT_CHANNEL = "C0REPORTS"


def seed_two_days(database_url: str, team_id: str = "T0DEVKIT", *, first_id: int = 1) -> None:
    """Two sessions of ``team_id`` with a reply each, one and two days ago."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            for days, sid in enumerate((first_id, first_id + 1), start=1):
                at = datetime.now(UTC) - timedelta(days=days)
                conn.execute(
                    insert(coaching_sessions).values(
                        id=sid,
                        team_id=team_id,
                        channel_id=f"D{sid}",
                        thread_ts=f"{sid}.0",
                        user_id=f"U{sid}",
                        created_at=at,
                        updated_at=at,
                    )
                )
                conn.execute(
                    insert(chat_messages),
                    [
                        {
                            "session_id": sid,
                            "message_type": "user",
                            "text": "secret",
                            "timestamp": at,
                            "latency_ms": None,
                        },
                        {
                            "session_id": sid,
                            "message_type": "assistant",
                            "text": "secret",
                            "timestamp": at,
                            "latency_ms": 1000 * days,
                        },
                    ],
                )
    finally:
        engine.dispose()


def coachbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.assembly.cli", "report", *args],
        env={**os.environ, "LOG_LEVEL": "INFO", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dry_run_prints_the_report_and_writes_the_chart(database_url: str, tmp_path: Path):
    seed_two_days(database_url)
    chart = tmp_path / "week.png"

    done = coachbot("--dry-run", "--chart", str(chart), env={"DATABASE_URL": database_url}, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("*Weekly coaching report*")
    assert "• Sessions: 2 started, 2 active" in done.stdout
    assert "• Messages: 4 · active coaches: 2" in done.stdout
    assert "• Reply time: median 1.00 s, p95 2.00 s" in done.stdout  # nearest rank: measured latencies
    assert f"Chart: {chart}" in done.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "secret" not in done.stdout + done.stderr


def test_dry_run_writes_weekly_report_png_by_default(database_url: str, tmp_path: Path):
    done = coachbot("--dry-run", env={"DATABASE_URL": database_url}, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "No coaching activity this week." in done.stdout
    assert (tmp_path / "weekly-report.png").read_bytes().startswith(b"\x89PNG")


def test_post_uploads_the_chart_with_the_report_through_files_upload_v2(
    database_url: str, slack_emulator: SlackEmulator, tmp_path: Path
):
    seed_two_days(database_url)
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_API_URL": slack_emulator.base_url,
        "REPORT_CHANNEL_ID": REPORT_CHANNEL,
    }

    done = coachbot("--post", env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert [c.method for c in slack_emulator.calls] == [
        "files.getUploadURLExternal",
        "upload.v1",
        "files.completeUploadExternal",
    ]
    (post,) = slack_emulator.messages(REPORT_CHANNEL)
    assert post.is_bot and post.text.startswith("*Weekly coaching report*")
    assert "• Messages: 4 · active coaches: 2" in post.text
    assert post.files and post.files[0]["name"].startswith("weekly-report-")
    assert slack_emulator.file_bytes(post.files[0]["id"]).startswith(b"\x89PNG")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(select(job_runs)).all() == []  # an operator's post claims nothing
    finally:
        engine.dispose()


def test_post_needs_a_channel_and_says_so(database_url: str, slack_emulator: SlackEmulator, tmp_path: Path):
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": slack_emulator.bot_token}

    done = coachbot("--post", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert "REPORT_CHANNEL_ID" in done.stderr
    assert slack_emulator.calls == []


def test_a_slack_refusal_ends_with_a_short_error(
    database_url: str, slack_emulator: SlackEmulator, tmp_path: Path
):
    slack_emulator.fail("files.getUploadURLExternal", error="not_in_channel", status=200, retry_after=None)
    env = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_API_URL": slack_emulator.base_url,
    }

    done = coachbot("--post", "--channel", REPORT_CHANNEL, env=env, cwd=tmp_path)

    assert done.returncode == 1
    assert "Slack refused the report: not_in_channel" in done.stderr
    assert "Traceback" not in done.stderr
