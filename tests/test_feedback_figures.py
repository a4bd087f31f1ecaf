"""The helpful rate in the weekly report, /perf and /metrics: counts only, and a figure only when
at least five coaches rated the replies behind it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, insert

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.prompt import PROMPT_VERSION
from bot.feedback.blocks import FEEDBACK_ACTION
from bot.operations.report import build_weekly_report, report_text
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from storage.models import coaching_sessions, reply_feedback, utcnow
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually
from tests.test_perf_command import block_text, perf

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday: the report covers 23–29 November
IN_THE_WEEK = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MODEL = "gpt-test"


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


def seed_rating(db: Engine, team: str, user: str, rating: str, *, at: datetime = IN_THE_WEEK) -> None:
    """One coach's session and their rating of one reply in it."""
    with db.begin() as conn:
        session_id = conn.execute(
            insert(coaching_sessions)
            .values(team_id=team, channel_id=f"D{user}", thread_ts="1.0", user_id=user)
            .returning(coaching_sessions.c.id)
        ).scalar_one()
        conn.execute(
            insert(reply_feedback).values(
                team_id=team,
                user_id=user,
                channel_id=f"D{user}",
                message_ts="1.5",
                session_id=session_id,
                rating=rating,
                note="private words" if rating == "negative" else None,
                model=MODEL,
                prompt_version=PROMPT_VERSION,
                created_at=at,
                updated_at=at,
            )
        )


def test_the_weekly_report_shows_a_workspaces_helpful_rate_only_with_five_coaches_behind_it(
    db: Engine,
) -> None:
    for n in range(6):  # six coaches: five found their reply helpful
        seed_rating(db, "T0BIG", f"U{n}", "positive" if n < 5 else "negative")
    for n in range(2):  # two coaches: their ratings can't be shown
        seed_rating(db, "T0SMALL", f"U{n}", "positive")

    text = report_text(build_weekly_report(db, now=NOW, timezone="UTC"))

    big = next(b for b in text.split("*Workspace ") if b.startswith("T0BIG"))
    small = next(b for b in text.split("*Workspace ") if b.startswith("T0SMALL"))
    assert (
        f"• Reply feedback: 83% helpful (5 of 6 rated) · model `{MODEL}` 83% helpful (5 of 6 rated) · "
        f"prompt `{PROMPT_VERSION}` 83% helpful (5 of 6 rated)"
    ) in big
    assert f"• Reply feedback: – · model `{MODEL}` – · prompt `{PROMPT_VERSION}` –" in small
    assert "private words" not in text
    assert "fewer than 5 coaches behind the figure" in text


def test_perf_shows_the_helpful_rate_per_model_and_prompt_and_metrics_counts_presses(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, db: Engine, settings: Settings
) -> None:
    for n in range(4):
        seed_rating(db, "T0OTHER", f"U{n}", "positive", at=utcnow())
    seed_rating(db, "T0OTHER", "U4", "negative", at=utcnow())
    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel="D0COACH", text="Hello"))

    slack_emulator.press_button(coachbot.events_url, action_id=FEEDBACK_ACTION, message=reply)

    def counted() -> str | None:
        with urllib.request.urlopen(f"{coachbot.url}/metrics", timeout=5) as response:
            body = response.read().decode()
        line = next((ln for ln in body.splitlines() if ln.startswith("coachbot_reply_feedback_total{")), None)
        return line

    line = eventually(counted)
    assert (
        'rating="positive"' in line and f'prompt_version="{PROMPT_VERSION}"' in line and line.endswith(" 1.0")
    )
    report = block_text(perf(slack_emulator, coachbot, "feedback"))
    assert "Overall: 83% helpful (5 of 6 rated)" in report  # six coaches, the press included
    assert f"Model `{MODEL}`: 80% helpful (4 of 5 rated)" in report
    assert f"Model `{settings.openai_model}`: –" in report  # one coach behind it: not shown
    assert "1 presses since start" in report
