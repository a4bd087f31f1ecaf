"""The weekly coaching report: a week's figures per workspace, as Slack mrkdwn and a PNG chart.

The week is the seven whole days before ``now``'s date in the report's timezone, so a report
posted on Monday morning covers Monday to Sunday of the week before, and "messages per day" means
the days readers see on their calendars.

Every figure is one SQL aggregate over a range of the ``created_at`` / ``timestamp`` columns
(``idx_chat_messages_report`` covers the week's range scan over the messages), so a database
of 100k sessions and 1M messages is reported in well under a second. The functions are
synchronous on purpose: the scheduler runs them in its worker thread with its own engine, and the
CLI runs them directly; nothing here may run on the event loop (matplotlib least of all).
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Connection, Engine, and_, case, func, select

from bot.feedback.figures import FeedbackFigures, feedback_by_team_in
from bot.operations.follow_through import MIN_COACHES, FollowThrough, follow_through_in
from bot.operations.percentiles import percentile
from storage.models import AttachmentStatus, MessageType, attachments, chat_messages, coaching_sessions

logger = logging.getLogger(__name__)

DAYS = 7
#: Messages that count as conversation: the coach's and the bot's, not system notes.
CONVERSATION_TYPES = (MessageType.USER.value, MessageType.ASSISTANT.value)


@dataclass(frozen=True)
class WorkspaceFigures:
    """One workspace's week. Reply times are None when the bot did not reply that week."""

    team_id: str
    sessions_started: int
    sessions_active: int
    messages: int
    active_coaches: int
    attachments: int
    attachment_bytes: int
    reply_ms_median: float | None
    reply_ms_p95: float | None
    messages_per_day: tuple[int, ...]  # one count per day of ``WeeklyReport.days``
    # Wrap-ups, commitments and check-ins (counts only; see bot.operations.follow_through).
    follow_through: FollowThrough = field(default_factory=FollowThrough)
    # The helpful rate of the week's rated replies (counts only; see bot.feedback.figures).
    feedback: FeedbackFigures = field(default_factory=FeedbackFigures)

    def busiest_day(self, days: Sequence[date]) -> date | None:
        """The first of the days with the most messages; None in a week without any."""
        if not any(self.messages_per_day):
            return None
        return days[self.messages_per_day.index(max(self.messages_per_day))]


@dataclass(frozen=True)
class WeeklyReport:
    start: datetime  # the first day's midnight, in ``timezone``
    end: datetime  # exclusive: midnight after the last day
    timezone: str
    days: tuple[date, ...]
    workspaces: tuple[WorkspaceFigures, ...]  # by team id; only workspaces with activity

    @property
    def period(self) -> str:
        """The ISO week the report covers, e.g. ``2026-W48``."""
        year, week, _ = self.days[-1].isocalendar()
        return f"{year}-W{week:02d}"

    def workspace(self, team_id: str) -> WorkspaceFigures | None:
        return next((w for w in self.workspaces if w.team_id == team_id), None)

    def of_team(self, team_id: str) -> WeeklyReport:
        """The report a workspace is shown (OAuth installs): its own figures, no one else's."""
        return replace(self, workspaces=tuple(w for w in self.workspaces if w.team_id == team_id))


def report_window(now: datetime, timezone: str | ZoneInfo) -> tuple[datetime, datetime, tuple[date, ...]]:
    """The seven whole local days before ``now``'s local date: (start, end, the days).

    Midnights are built per date, so a week across a DST change has a 23- or 25-hour day.
    """
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(zone).date()
    days = tuple(today - timedelta(days=DAYS - i) for i in range(DAYS))
    start = datetime.combine(days[0], time(0), tzinfo=zone)
    end = datetime.combine(today, time(0), tzinfo=zone)
    return start, end, days


def build_weekly_report(engine: Engine, *, now: datetime, timezone: str | ZoneInfo) -> WeeklyReport:
    """The figures for the week before ``now`` (see ``report_window``), every workspace at once."""
    with engine.connect() as connection:
        return weekly_report_in(connection, now=now, timezone=timezone)


def weekly_report_in(connection: Connection, *, now: datetime, timezone: str | ZoneInfo) -> WeeklyReport:
    """``build_weekly_report`` on an open connection (an AsyncConnection can ``run_sync`` this)."""
    start, end, days = report_window(now, timezone)
    zone_name = str(start.tzinfo)
    midnights = [datetime.combine(d, time(0), tzinfo=start.tzinfo) for d in days[1:]]

    started = _by_team(
        connection.execute(
            select(coaching_sessions.c.team_id, func.count())
            .where(coaching_sessions.c.created_at >= start, coaching_sessions.c.created_at < end)
            .group_by(coaching_sessions.c.team_id)
        )
    )
    activity = _message_activity(connection, start, end, midnights)
    replies = _reply_percentiles(connection, start, end, activity.team_of)
    files = {
        row[0]: (int(row[1]), int(row[2] or 0))
        for row in connection.execute(
            select(attachments.c.team_id, func.count(), func.sum(attachments.c.size))
            .where(
                attachments.c.created_at >= start,
                attachments.c.created_at < end,
                attachments.c.status == AttachmentStatus.STORED.value,
            )
            .group_by(attachments.c.team_id)
        )
    }

    follow_through = follow_through_in(connection, start, end)
    feedback = feedback_by_team_in(connection, start, end)
    teams = sorted(set(started) | set(activity.per_day) | set(files) | set(follow_through) | set(feedback))
    workspaces = tuple(
        WorkspaceFigures(
            team_id=team_id,
            sessions_started=started.get(team_id, 0),
            sessions_active=len(activity.sessions.get(team_id, ())),
            messages=sum(activity.per_day.get(team_id, ())),
            active_coaches=len(activity.coaches.get(team_id, ())),
            attachments=files.get(team_id, (0, 0))[0],
            attachment_bytes=files.get(team_id, (0, 0))[1],
            reply_ms_median=replies.get(team_id, (None, None))[0],
            reply_ms_p95=replies.get(team_id, (None, None))[1],
            messages_per_day=tuple(activity.per_day.get(team_id, (0,) * DAYS)),
            follow_through=follow_through.get(team_id, FollowThrough()),
            feedback=feedback.get(team_id, FeedbackFigures()),
        )
        for team_id in teams
    )
    return WeeklyReport(start=start, end=end, timezone=zone_name, days=days, workspaces=workspaces)


def _by_team(rows: Any) -> dict[str, int]:
    return {team_id: int(count) for team_id, count in rows}


@dataclass
class _Activity:
    """The week's conversation per workspace, from one scan of the messages."""

    per_day: dict[str, list[int]] = field(default_factory=dict)
    sessions: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    coaches: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    team_of: dict[int, str] = field(default_factory=dict)  # session id -> team, for the latencies


def _message_activity(
    connection: Connection, start: datetime, end: datetime, midnights: Sequence[datetime]
) -> _Activity:
    """Messages per day, active sessions and active coaches, per workspace.

    The messages are grouped by (session, day) first, read off the covering index
    ``idx_chat_messages_report`` without touching the table's rows (their text), and only those
    groups (thousands, not the week's hundred thousand messages) are joined to their sessions.
    """
    m = chat_messages.c
    # Which of the seven days a message falls on: the first midnight it is before.
    day = case(*[(m.timestamp < midnight, index) for index, midnight in enumerate(midnights)], else_=DAYS - 1)
    coach_spoke = func.max(case((m.message_type == MessageType.USER.value, 1), else_=0))
    groups = (
        select(
            m.session_id.label("session_id"),
            day.label("day"),
            func.count().label("messages"),
            coach_spoke.label("coach_spoke"),
        )
        .where(m.timestamp >= start, m.timestamp < end, m.message_type.in_(CONVERSATION_TYPES))
        .group_by(m.session_id, day)
        .subquery()
    )
    activity = _Activity()
    for team_id, user_id, session_id, day_index, messages, spoke in connection.execute(
        select(
            coaching_sessions.c.team_id,
            coaching_sessions.c.user_id,
            groups.c.session_id,
            groups.c.day,
            groups.c.messages,
            groups.c.coach_spoke,
        ).join_from(groups, coaching_sessions, coaching_sessions.c.id == groups.c.session_id)
    ).all():  # fetched in one go: thousands of rows, one driver call instead of one per row
        activity.per_day.setdefault(team_id, [0] * DAYS)[int(day_index)] += int(messages)
        activity.sessions[team_id].add(session_id)
        activity.team_of[session_id] = team_id
        if spoke:
            activity.coaches[team_id].add(user_id)
    return activity


def _reply_percentiles(
    connection: Connection, start: datetime, end: datetime, team_of: dict[int, str]
) -> dict[str, tuple[float | None, float | None]]:
    """Median and p95 of the bot's reply latency per workspace: nearest rank (``percentile_disc``).

    PostgreSQL computes them in the query; SQLite has no ordered-set aggregates, so the week's
    latencies come back by session (off the covering index, no join: every replying session is
    in ``team_of``) and are sorted here per workspace (tens of thousands of integers a week).
    """
    m = chat_messages.c
    replies = and_(
        m.timestamp >= start,
        m.timestamp < end,
        m.message_type == MessageType.ASSISTANT.value,
        m.latency_ms.is_not(None),
    )
    if connection.dialect.name == "postgresql":
        team = coaching_sessions.c.team_id
        rows = connection.execute(
            select(
                team,
                func.percentile_disc(0.5).within_group(m.latency_ms),
                func.percentile_disc(0.95).within_group(m.latency_ms),
            )
            .join_from(chat_messages, coaching_sessions, coaching_sessions.c.id == m.session_id)
            .where(replies)
            .group_by(team)
        )
        return {team_id: (float(p50), float(p95)) for team_id, p50, p95 in rows}
    by_team: dict[str, list[int]] = defaultdict(list)
    for session_id, latency in connection.execute(select(m.session_id, m.latency_ms).where(replies)).all():
        by_team[team_of[session_id]].append(latency)
    figures: dict[str, tuple[float | None, float | None]] = {}
    for team_id, values in by_team.items():
        values.sort()
        figures[team_id] = (percentile(values, 0.5), percentile(values, 0.95))
    return figures


# --------------------------------------------------------------------- text


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def _span(report: WeeklyReport) -> str:
    first, last = report.days[0], report.days[-1]
    return f"{first:%a %d %b} – {last:%a %d %b %Y}"


def report_text(report: WeeklyReport) -> str:
    """The report as Slack mrkdwn: a heading, then one short block per workspace."""
    lines = [f"*Weekly coaching report* · {_span(report)} ({report.timezone})"]
    if not report.workspaces:
        lines.append("No coaching activity this week.")
    for figures in report.workspaces:
        busiest = figures.busiest_day(report.days)
        busiest_text = f"{busiest:%A %d %b} ({max(figures.messages_per_day):,} messages)" if busiest else "–"
        lines += [
            "",
            f"*Workspace {figures.team_id}*",
            f"• Sessions: {figures.sessions_started:,} started, {figures.sessions_active:,} active",
            f"• Messages: {figures.messages:,} · active coaches: {figures.active_coaches:,}",
            f"• Attachments: {figures.attachments:,} ({_bytes(figures.attachment_bytes)})",
            f"• Reply time: median {_seconds(figures.reply_ms_median)}, p95 {_seconds(figures.reply_ms_p95)}",
            f"• Busiest day: {busiest_text}",
            figures.follow_through.line(),
            figures.feedback.line(),
        ]
    if any(f.follow_through.any_hidden or f.feedback.any_hidden for f in report.workspaces):
        lines += [
            "",
            f"_– : none, or fewer than {MIN_COACHES} coaches behind the figure, so it is not shown._",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------- chart


def render_chart(report: WeeklyReport) -> bytes:
    """A PNG bar chart of messages per day, one stacked colour per workspace.

    Uses matplotlib's object API on the Agg canvas, never pyplot: no global figure state, so it is
    safe in a worker thread. Blocking (≈100 ms): call it off the event loop.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [f"{d:%a %d}" for d in report.days]
    bottom = [0] * DAYS
    for figures in report.workspaces:
        axes.bar(labels, figures.messages_per_day, bottom=bottom, label=figures.team_id)
        bottom = [b + v for b, v in zip(bottom, figures.messages_per_day, strict=True)]
    axes.set_title(f"Messages per day · {_span(report)}")
    axes.set_ylabel("messages")
    axes.yaxis.get_major_locator().set_params(integer=True)
    if len(report.workspaces) > 1:
        axes.legend(title="workspace", fontsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def chart_file_name(report: WeeklyReport) -> str:
    return f"weekly-report-{report.period}.png"


# --------------------------------------------------------------------- posting


async def post_weekly_report(client: AsyncWebClient, channel: str, report: WeeklyReport, chart: bytes) -> str:
    """Post the report as one message: the chart via ``files_upload_v2`` with the text as its comment.

    Returns the uploaded file's id. Slack errors propagate (the caller records the outcome).
    """
    response = await client.files_upload_v2(
        channel=channel,
        content=chart,
        filename=chart_file_name(report),
        title=f"Messages per day, {_span(report)}",
        initial_comment=report_text(report),
    )
    file_id = str((response.get("file") or {}).get("id", ""))
    logger.info("Weekly report %s posted to %s (file %s)", report.period, channel, file_id)
    return file_id
