r"""What a coach's export holds: one ``Section`` per kind of data, in the order the files show them.

A new per-coach table joins the export as one entry in ``SECTIONS`` (see "feedback" below).

The JSON file gets every column but ``team_id``/``user_id`` (named once, in its header); the
Markdown file one line per row, from ``markdown``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from storage.export_rows import Statement, bystander_notices, coach_rows, session_files, session_messages
from storage.models import (
    checkin_opt_outs,
    checkins,
    coach_commitments,
    coach_goals,
    coach_preferences,
    remembered_items,
    reply_feedback,
    session_summaries,
)

Row = dict[str, Any]


@dataclass(frozen=True)
class Group:
    """Rows that repeat their parent's columns (a session on each of its messages): the JSON nests
    the children under one parent object, the Markdown gives each parent a heading."""

    key: str  # the parent's id column
    parent: tuple[str, ...]  # the parent's columns
    child_key: str  # a child's id column (NULL: the parent has no children)
    children: str  # the JSON key of the children's list
    heading: Callable[[Row], str]


@dataclass(frozen=True)
class Section:
    key: str  # the JSON file's key
    title: str  # the Markdown file's heading
    rows: Statement
    markdown: Callable[[Row], str]
    group: Group | None = None
    empty: str = "Nothing here."


def when(value: datetime | date | None) -> str:
    """A timestamp as the Markdown shows it (UTC, to the minute)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def quoted(text: str | None) -> str:
    """Free text kept as the coach wrote it, as a Markdown block quote (its line breaks kept)."""
    return "\n".join(f"> {line}" if line else ">" for line in (text or "").splitlines() or [""])


_SPEAKERS = {"user": "You", "assistant": "Coach", "system": "Note"}


def _message(row: Row) -> str:
    speaker = _SPEAKERS.get(str(row["role"]), str(row["role"]))
    return f"**{speaker}**, {when(row['timestamp'])}\n\n{quoted(row['text'])}\n"


def _session_heading(row: Row) -> str:
    state = "open" if row["is_active"] else "wrapped up"
    title = " ".join(str(row["title"] or "").split()) or f"Session {row['session_id']}"  # one line
    return (
        f"### {title}\n\n"
        f"Started {when(row['started_at'])}, last activity {when(row['last_activity_at'])} ({state}); "
        f"channel `{row['channel_id']}`, thread `{row['thread_ts']}`.\n"
    )


def _due(row: Row) -> str:
    return f", due {when(row['due_date'])}" if row.get("due_date") else ""


def _file(row: Row) -> str:
    size = f", {row['size']:,} bytes" if row.get("size") is not None else ""
    link = f" — [download]({row['link']})" if row.get("link") else ""
    return f"- **{row['name']}** ({row['status']}{size}, shared {when(row['created_at'])}){link}"


SESSIONS = Section(
    "sessions",
    "Sessions and messages",
    session_messages,
    _message,
    group=Group(
        key="session_id",
        parent=(
            "session_id",
            "channel_id",
            "thread_ts",
            "title",
            "is_active",
            "started_at",
            "last_activity_at",
        ),
        child_key="message_id",
        children="messages",
        heading=_session_heading,
    ),
)
FILES = Section("files", "Files you shared", session_files, _file)

SECTIONS: tuple[Section, ...] = (
    Section(
        "preferences",
        "Your settings",
        coach_rows(coach_preferences, coach_preferences.c.updated_at),
        lambda r: f"- Memory: {'on' if r['memory_enabled'] else 'off'} (since {when(r['updated_at'])})",
        empty="Defaults: memory on.",
    ),
    Section(
        "checkin_opt_outs",
        "Check-in setting",
        coach_rows(checkin_opt_outs, checkin_opt_outs.c.created_at),
        lambda r: f"- Check-ins off since {when(r['created_at'])}",
        empty="Check-ins are on.",
    ),
    SESSIONS,
    Section(
        "summaries",
        "Session summaries",
        coach_rows(session_summaries, session_summaries.c.created_at),
        lambda r: f"- {when(r['created_at'])} ({r['status']}):\n\n{quoted(r['summary'])}\n",
    ),
    Section(
        "goals",
        "Goals",
        coach_rows(coach_goals, coach_goals.c.created_at),
        lambda r: f"- {r['text']} ({r['status']}, since {when(r['created_at'])})",
    ),
    Section(
        "commitments",
        "Commitments",
        coach_rows(coach_commitments, coach_commitments.c.created_at),
        lambda r: f"- {r['text']} ({r['status']}{_due(r)}, made {when(r['created_at'])})",
    ),
    Section(
        "remembered",
        "What you asked me to remember",
        coach_rows(remembered_items, remembered_items.c.created_at),
        lambda r: f"- {r['text']} ({when(r['created_at'])})",
    ),
    Section(
        "checkins",
        "Check-ins",
        coach_rows(checkins, checkins.c.sent_at),
        lambda r: (
            f"- {when(r['sent_at'])}: check-in {r['round']} on commitment {r['commitment_id']}, "
            f"answered {r['answer'] or '—'}"
        ),
    ),
    Section(
        "feedback",
        "Your feedback on my replies",
        coach_rows(reply_feedback, reply_feedback.c.created_at),
        lambda r: (
            f"- {when(r['created_at'])}: {r['rating']} on the reply `{r['message_ts']}`"
            + (f"\n\n{quoted(r['note'])}\n" if r.get("note") else "")
        ),
    ),
    FILES,
    Section(
        "bystander_notes",
        "Other people's sessions you wrote in",
        bystander_notices,
        lambda r: (
            f"- {when(r['noted_at'])}: channel `{r['channel_id']}`, thread `{r['thread_ts']}` (not stored)"
        ),
        empty="None.",
    ),
)
