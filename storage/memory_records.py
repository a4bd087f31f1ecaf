"""What the memory store hands back and takes: plain values, no SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class MemoryKind(StrEnum):
    """The kinds of remembered things a coach can see, edit and delete (``/coach memory``)."""

    GOAL = "goal"
    COMMITMENT = "commitment"
    SUMMARY = "summary"
    REMEMBERED = "remembered"


@dataclass(frozen=True)
class Coach:
    """Whose memory: a user in a workspace. Every memory query is keyed by both."""

    team_id: str
    user_id: str


@dataclass(frozen=True)
class MemoryItem:
    """One remembered thing, as a new session's context and ``/coach memory`` show it."""

    kind: MemoryKind
    id: int
    text: str
    status: str
    created_at: datetime
    due_date: date | None = None


@dataclass(frozen=True)
class CoachMemory:
    """A coach's memory: whether it is on, and what a new session starts from."""

    enabled: bool = True
    goals: tuple[MemoryItem, ...] = ()
    commitments: tuple[MemoryItem, ...] = ()
    summaries: tuple[MemoryItem, ...] = ()  # newest first
    remembered: tuple[MemoryItem, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.goals or self.commitments or self.summaries or self.remembered)

    def items(self) -> tuple[MemoryItem, ...]:
        return (*self.goals, *self.commitments, *self.remembered, *self.summaries)


@dataclass(frozen=True)
class ExtractedCommitment:
    text: str
    due_date: date | None
    status: str


@dataclass(frozen=True)
class Extraction:
    """What a wrap-up's structured model call found in the session."""

    summary: str
    goals: tuple[str, ...] = ()
    commitments: tuple[ExtractedCommitment, ...] = ()
    remember: tuple[str, ...] = ()


@dataclass(frozen=True)
class SavedExtraction:
    """The rows a wrap-up stored: the commitments with their ids, for the summary's Done buttons."""

    summary_id: int
    commitments: tuple[MemoryItem, ...] = field(default=())


@dataclass(frozen=True)
class WrapTarget:
    """A session to wrap up, read from our tables (never from a Slack payload)."""

    session_id: int
    team_id: str
    user_id: str
    channel_id: str
    thread_ts: str
    is_active: bool
