"""What a coaching turn's storage hands back: the thread's key, its history, where a message landed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionKey:
    """A Slack thread; each thread the bot coaches in is one session."""

    team_id: str
    channel_id: str
    thread_ts: str


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of a session, as the prompt builder needs it."""

    role: str  # "user" | "assistant" | "system"
    text: str


@dataclass(frozen=True)
class RecordedMessage:
    """Where a user message landed, and whether it opened the session."""

    session_id: int
    message_id: int
    is_new_session: bool
    # The session's newest messages, oldest first, this one included, when asked for.
    history: tuple[HistoryMessage, ...] = ()
    # Stored files in the session (coaching_sessions.attachment_count), read by the same statements:
    # a turn searches the files only when there are some.
    attachment_count: int = 0
    # The owed-reply count after this message (coaching_sessions.coach_seq): a reply built from
    # this history answers the session's coach messages up to here.
    coach_seq: int = 0
    answered_seq: int = 0
    # Whether this message's write also took the session's turn lease (asked for with
    # ``lease_owner``): the caller then answers; otherwise the lease holder answers it next.
    leased: bool = False
    # A Slack message an expired lease's turn (a dead process) left streaming, to close.
    stale_stream_ts: str | None = None

    @property
    def takes_over(self) -> bool:
        """Leased from a turn that died: earlier messages were owed, or its reply was cut off."""
        return self.leased and (self.answered_seq < self.coach_seq - 1 or self.stale_stream_ts is not None)


@dataclass(frozen=True)
class Bystander:
    """Someone other than the session's coach wrote in its thread: nothing was stored."""

    session_id: int
    coach_id: str
