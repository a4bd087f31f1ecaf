"""What a coaching turn takes and gives back: the coach's message, the outcome, the texts the coach sees.

Plain values with no dependencies on the turn itself, so listeners, the intake of files and the
recovery sweep can import them without importing the coaching service.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import openai

from bot.operations.config_errors import is_config_error


class Surface(enum.StrEnum):
    """Where the coach wrote: it decides how a session starts and what feedback Slack can show."""

    DIRECT_MESSAGE = "dm"
    CHANNEL = "channel"
    AGENT_PANEL = "agent_panel"


@dataclass(frozen=True)
class CoachMessage:
    """A coach's message, parsed from whichever Slack event carried it."""

    team_id: str
    channel_id: str
    thread_ts: str
    ts: str
    user_id: str
    text: str
    surface: Surface
    starts_session: bool
    event_id: str | None = None
    received_at: float | None = None
    # Slack file objects of a file_share; empty for plain text (the hot path never looks further).
    files: tuple[dict[str, Any], ...] = ()


class TurnOutcome(enum.StrEnum):
    REPLIED = "replied"
    DUPLICATE = "duplicate"
    NOT_A_SESSION = "not_a_session"
    MODEL_FAILED = "model_failed"
    SLACK_FAILED = "slack_failed"
    NOT_STORED = "not_stored"
    FAILED = "failed"
    NOTHING_TO_READ = "nothing_to_read"
    FILES_STORED = "files_stored"
    FILES_LISTED = "files_listed"
    QUEUED = "queued"  # stored; the turn already running in the session answers it next
    NOT_THE_COACH = "not_the_coach"
    WRAPPED_UP = "wrapped_up"  # the coach said "wrap up": the session ended, no model reply


NOT_SET_UP_TEXT = (
    "Sorry, I'm not set up correctly yet, so I can't answer. "
    "The admins have been told. Your message is saved."
)


def failure_text(error: BaseException) -> str:
    """A short, human explanation for the thread; never the raw error.

    A configuration error (a refused key, an unknown model…) is not an outage: sending again
    won't help, so the coach is told the bot isn't set up and that the admins know.
    """
    if is_config_error(error):
        return NOT_SET_UP_TEXT
    saved = "Your message is saved, so just send it again in a minute."
    if isinstance(error, openai.RateLimitError):
        return f"I'm getting too many requests right now and couldn't answer. {saved}"
    if isinstance(error, openai.APITimeoutError):
        return f"The coaching model took too long to answer. {saved}"
    return f"The coaching model is unavailable right now. {saved}"


INTERRUPTED_NOTE = "\n\n_(My reply was cut off. Your message is saved; please ask again.)_"
NOTHING_TO_READ_TEXT = "I can only read text here. Tell me in a few words what you'd like to work on."
EMPTY_REPLY_TEXT = "I don't have a good answer to that. Could you say a bit more about what you need?"
UNEXPECTED_TEXT = "Sorry, something went wrong on my side. Your message is saved; please ask again."
SLACK_FAILED_TEXT = "Sorry, Slack had trouble showing my reply. Please ask again in a minute."
NOT_STORED_TEXT = "Sorry, I couldn't save that message, so I haven't answered it. Please send it again."
#: Ends the reply a process was streaming when it died; the answer follows in a new message.
STALE_STREAM_NOTE = "\n\n_(I was restarted here; my full answer follows.)_"
#: Ahead of a reply that a turn cut off by a restart (a crash, a deploy) owed.
RESTARTED_LEAD_IN = "_I was restarted before I could answer, so here is my answer now._\n\n"
