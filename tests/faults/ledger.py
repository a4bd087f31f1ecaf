"""What the fault tests check after the storm: Slack's threads and our tables agree, nothing twice.

Every case ends with the same three questions, asked of the emulator (what the coach sees) and of
the tables (what the next turn's history will be):

- duplicates: a thread with more than one reply from the bot, or one model call too many;
- unanswered: a coach's message without a reply in its thread, or a reply still streaming;
- half-written: an event claimed without its message stored, a session without messages, a
  coach's message stored twice, a message without its session, a stored message that nothing
  (reply, or the system note of a failed reply) follows, or a turn's lease left held;
- and, with durable turns, a session whose count of answered messages lags its coach's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, inspect, text

from bot.conversation.turn_values import NOT_STORED_TEXT, STALE_STREAM_NOTE
from devkit.slack_emulator import Message, SlackEmulator
from storage.engine import sync_url


@dataclass(frozen=True)
class SentMessage:
    """A coach's message the test sent: its thread, and the event id every delivery carried."""

    channel: str
    ts: str
    thread_ts: str
    event_id: str
    text: str
    body: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # what Slack POSTs


def sent(event: dict[str, Any], body: dict[str, Any]) -> SentMessage:
    """The message an ``event_callback`` body delivers."""
    return SentMessage(
        channel=event["channel"],
        ts=event["ts"],
        thread_ts=event.get("thread_ts") or event["ts"],
        event_id=body["event_id"],
        text=event["text"],
        body=body,
    )


def new_coach_message(slack: SlackEmulator, events_url: str, channel: str) -> SentMessage:
    """A new coach's DM (its own thread), delivered once to ``events_url`` and acknowledged."""
    event = slack.user_says(channel=channel, user=f"U{channel[1:]}", text=f"Hello from {channel}.")
    body = slack.envelope(event)
    assert slack.send_event(events_url, body).status == 200
    return sent(event, body)


def assert_answered_normally(slack: SlackEmulator, messages: Iterable[SentMessage]) -> None:
    """Each thread's last reply is the model's answer to its message: no apology, no "couldn't save"."""
    expected = list(messages)
    failed = {}
    for message in expected:
        replies = slack.replies_in(message.channel, message.thread_ts)
        if not (replies and replies[-1].text.startswith("Reply ") and message.text in replies[-1].text):
            failed[message.ts] = replies[-1].text[:60] if replies else None
    assert failed == {}, f"{len(failed)} of {len(expected)} coaches saw a failure: {failed}"


@dataclass
class Tables:
    """The rows of the tables a turn writes, read once."""

    sessions: dict[int, tuple[str, str]]  # id -> (channel_id, thread_ts)
    messages: list[tuple[int, int, str, str | None, str]]  # (id, session_id, type, slack_ts, text)
    claimed_events: set[str]
    # id -> (coach messages, answered, lease owner): what durable turns still owe (revision 0006)
    owed: dict[int, tuple[int, int, str | None]] = field(default_factory=dict)

    def messages_of(self, session_id: int) -> list[tuple[int, int, str, str | None, str]]:
        return [row for row in self.messages if row[1] == session_id]


def read_tables(database_url: str) -> Tables:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            sessions = {
                row.id: (row.channel_id, row.thread_ts)
                for row in connection.execute(text("SELECT id, channel_id, thread_ts FROM coaching_sessions"))
            }
            messages = [
                (row.id, row.session_id, row.message_type, row.slack_ts, row.text)
                for row in connection.execute(
                    text("SELECT id, session_id, message_type, slack_ts, text FROM chat_messages ORDER BY id")
                )
            ]
            claimed = {
                row.event_id for row in connection.execute(text("SELECT event_id FROM processed_events"))
            }
            owed = {}
            if "coach_seq" in {
                column["name"] for column in inspect(connection).get_columns("coaching_sessions")
            }:
                owed = {
                    row.id: (row.coach_seq, row.answered_seq, row.lease_owner)
                    for row in connection.execute(
                        text("SELECT id, coach_seq, answered_seq, lease_owner FROM coaching_sessions")
                    )
                }
    finally:
        engine.dispose()
    return Tables(sessions, messages, claimed, owed)


def settled(database_url: str) -> bool:
    """No session owes a reply or holds a turn's lease: every turn is over (the signal to audit)."""
    return all(
        asked == answered and owner is None
        for asked, answered, owner in read_tables(database_url).owed.values()
    )


@dataclass
class Audit:
    """What went wrong, by kind; empty lists everywhere is the only passing result."""

    duplicates: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    half_written: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.unanswered or self.half_written)

    def __str__(self) -> str:
        def part(name: str, found: list[str]) -> str:
            return f"{len(found)} {name}" + (": " + "; ".join(found[:8]) if found else "")

        return ", ".join(
            [
                part("duplicate(s)", self.duplicates),
                part("unanswered", self.unanswered),
                part("half-written", self.half_written),
            ]
        )


def audit(
    slack: SlackEmulator,
    database_url: str,
    messages: Iterable[SentMessage],
    *,
    lenient: Iterable[SentMessage] = (),
) -> Audit:
    """Check every message got its one complete reply and was stored whole, with its claim.

    A thread with n of these messages must show n complete replies from the bot (each sent after
    the one before was answered). ``lenient``: messages sent while something was down; they still
    get exactly one reply each, and are stored once or not at all (a coach told "I couldn't save
    that message" must find nothing stored), but their reply need not be stored.
    """
    tables = read_tables(database_url)
    found = Audit()
    strict, loose = list(messages), list(lenient)
    by_thread = {(channel, thread): sid for sid, (channel, thread) in tables.sessions.items()}
    threads: dict[tuple[str, str], int] = {}
    for message in strict + loose:
        threads[(message.channel, message.thread_ts)] = (
            threads.get((message.channel, message.thread_ts), 0) + 1
        )
    for (channel, thread_ts), count in threads.items():
        _check_thread(slack, channel, thread_ts, count, found)
    for message in strict:
        _check_stored(tables, by_thread, message, found)
    for message in loose:
        _check_stored_if_at_all(slack, tables, by_thread, message, found)
    _check_tables(tables, found)
    return found


def _check_thread(slack: SlackEmulator, channel: str, thread_ts: str, count: int, found: Audit) -> None:
    # A reply cut off by a crash, closed with a note by whoever took over, is not an answer.
    replies: list[Message] = [
        reply for reply in slack.replies_in(channel, thread_ts) if not reply.text.endswith(STALE_STREAM_NOTE)
    ]
    if len(replies) < count:
        found.unanswered.append(f"{thread_ts}: {len(replies)} replies to {count} message(s)")
    elif len(replies) > count:
        found.duplicates.append(f"{thread_ts}: {len(replies)} replies to {count} message(s)")
    if any(reply.streaming for reply in slack.replies_in(channel, thread_ts)):
        found.unanswered.append(f"{thread_ts}: a reply never finished streaming")
    if any(not reply.text.strip() for reply in replies):
        found.unanswered.append(f"{thread_ts}: an empty reply")


def _stored_copies(
    tables: Tables, by_thread: dict[tuple[str, str], int], message: SentMessage
) -> tuple[int | None, list[tuple[int, int, str, str | None, str]]]:
    session_id = by_thread.get((message.channel, message.thread_ts))
    if session_id is None:
        return None, []
    rows = tables.messages_of(session_id)
    return session_id, [row for row in rows if row[2] == "user" and row[3] == message.ts]


def _check_stored(
    tables: Tables, by_thread: dict[tuple[str, str], int], message: SentMessage, found: Audit
) -> None:
    session_id, mine = _stored_copies(tables, by_thread, message)
    if session_id is None:
        found.half_written.append(f"{message.ts}: no session for its thread")
        return
    if len(mine) != 1:
        found.half_written.append(f"{message.ts}: stored {len(mine)} times")
        return
    if mine[0][4] != message.text:
        found.half_written.append(f"{message.ts}: stored text differs")
    if not [row for row in tables.messages_of(session_id) if row[0] > mine[0][0]]:
        found.unanswered.append(f"{message.ts}: stored, but no reply or note stored after it")
    if message.event_id not in tables.claimed_events:
        found.half_written.append(f"{message.ts}: stored without its event claim")


def _check_stored_if_at_all(
    slack: SlackEmulator,
    tables: Tables,
    by_thread: dict[tuple[str, str], int],
    message: SentMessage,
    found: Audit,
) -> None:
    _, mine = _stored_copies(tables, by_thread, message)
    if len(mine) > 1:
        found.half_written.append(f"{message.ts}: stored {len(mine)} times")
    elif mine and message.event_id not in tables.claimed_events:
        found.half_written.append(f"{message.ts}: stored without its event claim")
    told_not_saved = any(
        reply.text == NOT_STORED_TEXT for reply in slack.replies_in(message.channel, message.thread_ts)
    )
    if told_not_saved and mine:
        found.half_written.append(f"{message.ts}: the coach was told it was not saved, yet it is stored")
    if not mine and not told_not_saved:
        found.half_written.append(f"{message.ts}: not stored, and the coach was not told")


def _check_tables(tables: Tables, found: Audit) -> None:
    for session_id in tables.sessions:
        rows = tables.messages_of(session_id)
        if not rows:
            found.half_written.append(f"session {session_id}: no messages")
        replies = [row for row in rows if row[2] == "assistant"]
        asked = [row for row in rows if row[2] == "user"]
        if len(replies) > len(asked):
            found.duplicates.append(f"session {session_id}: {len(replies)} replies to {len(asked)} messages")
    for session_id, (asked, answered, owner) in tables.owed.items():
        if answered < asked:
            found.unanswered.append(f"session {session_id}: owes a reply ({answered} of {asked} answered)")
        if owner is not None:
            found.half_written.append(f"session {session_id}: a turn's lease left held by {owner}")
    for row in tables.messages:
        if row[1] not in tables.sessions:
            found.half_written.append(f"message {row[0]}: its session {row[1]} does not exist")
