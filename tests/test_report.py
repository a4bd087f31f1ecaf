"""The weekly report's figures match a seeded week exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, insert

from bot.operations.report import build_weekly_report, render_chart, report_text, report_window
from storage.engine import sync_url
from storage.models import attachments, chat_messages, coaching_sessions

BERLIN = ZoneInfo("Europe/Berlin")
#: A Monday morning in Berlin: the report covers Mon 23 – Sun 29 November 2026, Berlin days.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


def add_session(conn, sid: int, team: str, user: str, created: datetime) -> None:
    conn.execute(
        insert(coaching_sessions).values(
            id=sid,
            team_id=team,
            channel_id=f"D{sid}",
            thread_ts=f"{sid}.0",
            user_id=user,
            created_at=created,
            updated_at=created,
        )
    )


def add_message(conn, sid: int, kind: str, at: datetime, latency_ms: int | None = None) -> None:
    conn.execute(
        insert(chat_messages).values(
            session_id=sid, message_type=kind, text="(seeded)", timestamp=at, latency_ms=latency_ms
        )
    )


def add_attachment(conn, sid: int, team: str, n: int, at: datetime, size: int | None, status: str) -> None:
    conn.execute(
        insert(attachments).values(
            session_id=sid,
            slack_file_id=f"F{n}",
            team_id=team,
            user_id="U1",
            name=f"notes-{n}.txt",
            mime_type="text/plain",
            size=size,
            status=status,
            created_at=at,
            updated_at=at,
        )
    )


def seed_week(engine: Engine) -> None:
    """Two workspaces with known activity; times chosen around the Berlin day and week edges."""
    with engine.begin() as conn:
        add_session(conn, 1, "T1", "U1", utc(20, 9))  # A: opened before the week, active in it
        add_session(conn, 2, "T1", "U2", utc(24, 9))  # B
        add_session(conn, 3, "T1", "U1", utc(26, 9))  # C: U1 again
        add_session(conn, 4, "T1", "U3", utc(19, 9))  # D: quiet all week
        add_session(conn, 5, "T2", "U9", utc(25, 9))  # E: the other workspace
        add_session(conn, 6, "T3", "U7", utc(2, 9))  # F: a workspace with nothing this week

        add_message(conn, 4, "user", utc(22, 22, 30))  # Sun 23:30 in Berlin: the week before
        add_message(conn, 1, "user", utc(22, 23, 30))  # Mon 00:30 in Berlin (still Sunday in UTC)
        add_message(conn, 2, "user", utc(24, 10))
        add_message(conn, 2, "assistant", utc(24, 10, 1), latency_ms=1000)
        add_message(conn, 1, "user", utc(24, 12))
        add_message(conn, 1, "assistant", utc(24, 12, 1), latency_ms=2000)
        add_message(conn, 3, "user", utc(26, 8))
        add_message(conn, 3, "assistant", utc(26, 8, 1), latency_ms=3000)
        add_message(conn, 3, "user", utc(26, 9))
        add_message(conn, 3, "assistant", utc(26, 9, 1), latency_ms=4000)
        add_message(conn, 3, "system", utc(26, 9, 2))  # a system note is not a message of the week
        add_message(conn, 2, "user", utc(29, 22, 30))  # Sun 23:30 in Berlin: the last day
        add_message(conn, 2, "user", utc(29, 23, 0))  # Mon 30 00:00 in Berlin: next week
        add_message(conn, 6, "user", utc(3, 9))
        add_message(conn, 5, "user", utc(25, 10))
        add_message(conn, 5, "assistant", utc(25, 10, 1), latency_ms=500)

        add_attachment(conn, 2, "T1", 1, utc(24, 10), 1000, "stored")
        add_attachment(conn, 3, "T1", 2, utc(26, 8), 2500, "stored")
        add_attachment(conn, 3, "T1", 3, utc(26, 8), None, "failed")  # never stored: not counted
        add_attachment(conn, 1, "T1", 4, utc(20, 9), 9999, "stored")  # the week before


def test_the_week_is_the_seven_whole_local_days_before_today():
    start, end, days = report_window(NOW, "Europe/Berlin")

    assert days == tuple(date(2026, 11, d) for d in range(23, 30))
    assert start == datetime(2026, 11, 23, tzinfo=BERLIN) and start.astimezone(UTC) == utc(22, 23)
    assert end == datetime(2026, 11, 30, tzinfo=BERLIN)


def test_a_week_across_the_dst_change_keeps_local_midnights():
    start, end, _ = report_window(
        datetime(2026, 10, 28, 9, tzinfo=BERLIN), BERLIN
    )  # clocks went back on 25 Oct

    assert start.astimezone(UTC) == datetime(2026, 10, 20, 22, tzinfo=UTC)  # CEST midnight
    assert end.astimezone(UTC) == datetime(2026, 10, 27, 23, tzinfo=UTC)  # CET midnight
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=7, hours=1)


def test_report_figures_match_the_seeded_week(db: Engine):
    seed_week(db)

    report = build_weekly_report(db, now=NOW, timezone="Europe/Berlin")

    assert [w.team_id for w in report.workspaces] == ["T1", "T2"]
    t1 = report.workspace("T1")
    assert t1 is not None
    assert t1.sessions_started == 2
    assert t1.sessions_active == 3
    assert t1.messages == 10
    assert t1.messages_per_day == (1, 4, 0, 4, 0, 0, 1)
    assert t1.active_coaches == 2
    assert (t1.attachments, t1.attachment_bytes) == (2, 3500)
    assert t1.reply_ms_median == 2000.0  # nearest rank: a latency a coach really waited
    assert t1.reply_ms_p95 == 4000.0
    assert t1.busiest_day(report.days) == date(2026, 11, 24)  # Tue and Thu tie: the first

    t2 = report.workspace("T2")
    assert t2 is not None
    assert (t2.sessions_started, t2.sessions_active, t2.messages, t2.active_coaches) == (1, 1, 2, 1)
    assert t2.messages_per_day == (0, 0, 2, 0, 0, 0, 0)
    assert (t2.reply_ms_median, t2.reply_ms_p95) == (500.0, 500.0)
    assert (t2.attachments, t2.attachment_bytes) == (0, 0)
    assert report.period == "2026-W48"


def test_an_empty_database_gives_an_empty_report_not_an_error(db: Engine):
    report = build_weekly_report(db, now=NOW, timezone="UTC")

    assert report.workspaces == ()
    assert "No coaching activity this week." in report_text(report)


def test_report_text_is_slack_mrkdwn_with_every_figure(db: Engine):
    seed_week(db)
    text = report_text(build_weekly_report(db, now=NOW, timezone="Europe/Berlin"))

    assert text.startswith("*Weekly coaching report* · Mon 23 Nov – Sun 29 Nov 2026 (Europe/Berlin)")
    assert "*Workspace T1*" in text and "*Workspace T2*" in text
    assert "• Sessions: 2 started, 3 active" in text
    assert "• Messages: 10 · active coaches: 2" in text
    assert "• Attachments: 2 (3.4 KB)" in text
    assert "• Reply time: median 2.00 s, p95 4.00 s" in text
    assert "• Busiest day: Tuesday 24 Nov (4 messages)" in text
    assert "(seeded)" not in text  # figures only, never message text


def test_chart_is_a_png_of_messages_per_day(db: Engine):
    seed_week(db)

    png = render_chart(build_weekly_report(db, now=NOW, timezone="Europe/Berlin"))

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 5_000
