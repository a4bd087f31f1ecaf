"""Bulk-load a coachbot database with coaching sessions and their messages, fast.

Shared by ``python -m bench --seed-messages N`` (the app then runs against a database of realistic
size) and ``bench.storage_lookup`` (timing of the storage hot path). The schema must exist already
(``storage.migrate.upgrade_database``).

What is loaded: ``sessions`` threads over a few teams, mostly DMs and some channel threads, opened
at times spread over the last ``window_days`` days; ``messages`` messages among them (a skewed
number per session), alternating user and assistant, each a few hundred characters, a minute or
two apart, all older than the moment of seeding. Rows go in in time order, so message ids
interleave across sessions as they do in a database that grew in production.

Session 1 is special: a DM in the emulator's team (``TEAM_ID``) with exactly
``first_session_messages`` messages, so a benchmark can send follow-ups into a thread with a
known history (or, with a large count, time a session that holds a big share of everything).

Speed: SQLite gets ``executemany`` in large batches inside a single transaction; PostgreSQL gets
``COPY … FROM STDIN`` through a raw psycopg connection, then ``VACUUM (ANALYZE)`` so the planner
has statistics and the first reads do not pay for setting hint bits. A million messages take
seconds, not minutes.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.load import TEAM_ID
from storage.conversations import SessionKey
from storage.models import TITLE_LENGTH

#: The emulator's team first (session 1 lives there), then a few others sharing the database.
TEAMS = (TEAM_ID, "T0NORTH1", "T0SOUTH2", "T0WEST03")
USERS_PER_TEAM = 400
CHANNELS_PER_TEAM = 40
DM_SHARE = 7  # of 10 sessions are DMs; the rest are threads in shared channels
WINDOW_DAYS = 60
MESSAGE_GAP_SECONDS = 150.0  # between two messages of a session, unless it is long and must fit
RECENT_MARGIN_SECONDS = 3600.0  # no seeded message is newer than an hour before seeding
ACTIVE_DAYS = 14  # sessions quiet for longer are mostly closed
BATCH_ROWS = 50_000
TITLE_CHARS = 60  # as bot.conversation.coaching stores titles
_MIX = 2654435761  # Knuth's multiplicative hash, to spread session numbers over users and channels

_USER_LINES = (
    "I have a one-on-one with a new report tomorrow and I am not sure how to open it.",
    "My team keeps missing sprint commitments and I do not know whether to push harder or back off.",
    "A peer took credit for work my team did in the leadership review last week.",
    "How do I tell my manager that the roadmap she wants is not realistic this quarter?",
    "One of my senior engineers seems checked out since the reorg was announced.",
    "I want to delegate the hiring loop but I am worried about the quality of the bar.",
    "The feedback I gave yesterday landed badly and now the conversation feels stuck.",
    "We have two strong candidates for the lead role and only one opening.",
    "I keep ending up in meetings all day and have no time for actual thinking.",
    "Someone on my team asked for a promotion and I do not think they are ready yet.",
    "How should I prepare for a difficult conversation about performance?",
    "I am new to managing managers and the skip-levels feel awkward.",
)
_COACH_LINES = (
    "That sounds like a hard spot to be in, and it makes sense that you want to get it right.",
    "Before we look at options, what outcome would make this conversation a success for you?",
    "One approach is to name what you observed, the impact it had, and then ask an open question.",
    "You might start by sharing your intent: you want them to succeed, and that is why you raise it.",
    "It can help to separate the facts you are sure of from the story you are telling yourself.",
    "Consider agreeing on one small, concrete next step and a time to check in on it together.",
    "What have you already tried, and what did you notice about how they responded?",
    "Delegating is easier when the definition of done and the decision rights are explicit.",
    "If the roadmap is not realistic, bring two alternatives with their trade-offs, not just a no.",
    "A skip-level works best with a clear purpose: listening, not status, and a follow-up you keep.",
    "Try writing down the three points you must land and the one question you want to ask.",
    "Notice that you can acknowledge their frustration without agreeing with every conclusion.",
)


def _texts(lines: Sequence[str], count: int, low: int, high: int, rng: random.Random) -> tuple[str, ...]:
    """``count`` texts of ``low``–``high`` characters, whole lines (no tab, newline or backslash)."""
    texts = []
    for _ in range(count):
        target = rng.randint(low, high)
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice([line for line in lines if not parts or line != parts[-1]]))
        texts.append(" ".join(parts))
    return tuple(texts)


@dataclass(frozen=True)
class SeedSpec:
    """How much to load. ``first_session_messages`` None: session 1 is sized like the others."""

    sessions: int
    messages: int
    first_session_messages: int | None = None
    window_days: int = WINDOW_DAYS
    random_seed: int = 20240229

    def __post_init__(self) -> None:
        if self.sessions < 1 or self.messages < 0:
            raise ValueError("seeding needs at least one session and a non-negative message count")
        if self.sessions >= 1_000_000:
            raise ValueError("at most 999,999 sessions (thread_ts values embed the session number)")
        if self.first_session_messages is not None and self.first_session_messages > self.messages:
            raise ValueError("session 1 cannot hold more messages than are seeded")


@dataclass(frozen=True)
class SeedResult:
    """What was loaded, and where session 1 (the known thread) is."""

    backend: str
    sessions: int
    messages: int
    seconds: float
    session_id_base: int  # session n has id session_id_base + n
    first_session: SessionKey
    first_session_user: str
    first_session_messages: int
    window_days: int
    keys: tuple[SessionKey, ...] = field(repr=False)  # keys[n - 1] is session n's thread

    @property
    def first_session_id(self) -> int:
        return self.session_id_base + 1

    def session_key(self, n: int) -> SessionKey:
        return self.keys[n - 1]

    def session_user(self, n: int) -> str:
        """Session n's coach: only they are coached in its thread."""
        return _coach_of(n)

    def to_json(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "messages": self.messages,
            "seconds": round(self.seconds, 2),
            "window_days": self.window_days,
            "teams": len(TEAMS),
            "probe_thread": {
                "session_id": self.first_session_id,
                "team_id": self.first_session.team_id,
                "channel_id": self.first_session.channel_id,
                "thread_ts": self.first_session.thread_ts,
                "seeded_messages": self.first_session_messages,
            },
        }


@dataclass(frozen=True)
class _Session:
    n: int
    key: SessionKey
    user: str
    created_us: int
    count: int
    gap_us: int


class _Layout:
    """The deterministic shape of a seeded database, as plain rows (timestamps in µs since the epoch)."""

    def __init__(self, spec: SeedSpec, now: datetime) -> None:
        self.spec = spec
        rng = random.Random(spec.random_seed)
        self._user_texts = _texts(_USER_LINES, 256, 120, 360, rng)
        self._coach_texts = _texts(_COACH_LINES, 256, 240, 720, rng)
        end_us = int((now.timestamp() - RECENT_MARGIN_SECONDS) * 1_000_000)
        start_us = end_us - spec.window_days * 86_400_000_000
        self.end_us = end_us
        self.active_after_us = end_us - ACTIVE_DAYS * 86_400_000_000
        counts = _message_counts(spec, rng)
        self.sessions: list[_Session] = []
        for n, count in enumerate(counts, start=1):
            # Session 1 opens at the start of the window (room for a long one); the others at
            # times spread evenly but out of order over it, from a low-discrepancy sequence.
            spread = (n * 0.6180339887498949) % 1.0
            created = start_us if n == 1 else start_us + int(spread * (end_us - start_us))
            room = end_us - created
            gap = min(int(MESSAGE_GAP_SECONDS * 1_000_000), room // count) if count else 0
            key, user = _session_key(n, created)
            self.sessions.append(_Session(n, key, user, created, count, max(gap, 1)))

    def message_order(self) -> list[tuple[int, int, int]]:
        """(timestamp µs, session n, position in session) of every message, oldest first."""
        order = [(s.created_us + k * s.gap_us, s.n, k) for s in self.sessions for k in range(s.count)]
        order.sort()
        return order

    def text(self, n: int, k: int) -> str:
        pool = self._user_texts if k % 2 == 0 else self._coach_texts
        return pool[(n * 31 + k * 7) % len(pool)]

    def session_rows(self, id_base: int, timestamp: Any) -> Iterator[tuple[Any, ...]]:
        for s in self.sessions:
            last_us = s.created_us + max(s.count - 1, 0) * s.gap_us
            mixed = (s.n * _MIX) & 0xFFFFFFFF
            yield (
                id_base + s.n,
                s.key.team_id,
                s.key.channel_id,
                s.key.thread_ts,
                s.user,
                s.n == 1 or last_us > self.active_after_us or mixed % 4 == 0,
                self.text(s.n, 0)[:TITLE_CHARS][:TITLE_LENGTH],
                f"vs_{s.n:08d}" if mixed % 10 == 0 else None,
                timestamp(s.created_us),
                timestamp(last_us),
            )

    def message_rows(
        self, order: Iterable[tuple[int, int, int]], id_base: int, session_base: int, timestamp: Any
    ) -> Iterator[tuple[Any, ...]]:
        for message_id, (at_us, n, k) in enumerate(order, start=id_base + 1):
            assistant = k % 2 == 1
            text = self.text(n, k)
            yield (
                message_id,
                session_base + n,
                "assistant" if assistant else "user",
                # The first message is the thread's root: its ts is the thread_ts.
                f"{at_us // 1_000_000}.{k % 1_000_000:06d}" if k else self.sessions[n - 1].key.thread_ts,
                text,
                timestamp(at_us),
                len(text) // 4 + 40 * k if assistant else None,
                len(text) // 4 if assistant else None,
                900 + (at_us // 1000) % 2000 if assistant else None,
            )


def _message_counts(spec: SeedSpec, rng: random.Random) -> list[int]:
    """Messages per session: session 1 as asked, the rest skewed (log-normal) around the mean."""
    first = spec.first_session_messages
    others = spec.sessions - 1
    if first is None:
        first = spec.messages // spec.sessions if others else spec.messages
    rest = spec.messages - first
    if not others:
        return [spec.messages]
    weights = [rng.lognormvariate(0.0, 0.9) for _ in range(others)]
    total = sum(weights)
    counts = [int(rest * w / total) for w in weights]
    for i in range(rest - sum(counts)):  # the rounding remainder, one each
        counts[i % others] += 1
    return [first, *counts]


def _session_key(n: int, created_us: int) -> tuple[SessionKey, str]:
    """Session n's thread and coach: a team, a DM or a shared channel, a thread_ts at its opening."""
    mixed = (n * _MIX) & 0xFFFFFFFF
    team_index = (n - 1) % len(TEAMS)
    user = _coach_of(n)
    if n % 10 < DM_SHARE:  # session 1 is a DM
        channel = f"D{team_index}{mixed % USERS_PER_TEAM:07d}"
    else:
        channel = f"C{team_index}{(mixed >> 8) % CHANNELS_PER_TEAM:07d}"
    thread_ts = f"{created_us // 1_000_000}.{n:06d}"
    return SessionKey(TEAMS[team_index], channel, thread_ts), user


def _coach_of(n: int) -> str:
    mixed = (n * _MIX) & 0xFFFFFFFF
    return f"U{(n - 1) % len(TEAMS)}{mixed % USERS_PER_TEAM:07d}"


_EPOCH = datetime(1970, 1, 1)


def _naive_utc_text(us: int) -> str:
    """SQLite's stored form of a UTC datetime (what SQLAlchemy's DateTime writes there)."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat(" ", "microseconds")


def _pg_utc_text(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat(" ", "microseconds") + "+00"


def _batches(rows: Iterable[tuple[Any, ...]], size: int = BATCH_ROWS) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


_SESSION_COLUMNS = (
    "id, team_id, channel_id, thread_ts, user_id, is_active, title, vector_store_id, created_at, updated_at"
)
_MESSAGE_COLUMNS = (
    "id, session_id, message_type, slack_ts, text, timestamp, prompt_tokens, completion_tokens, latency_ms"
)


def seed_database(url: str, spec: SeedSpec, *, now: datetime | None = None) -> SeedResult:
    """Load ``spec`` into the (migrated) database at ``url``, any coachbot URL; returns what went in."""
    began = time.perf_counter()
    layout = _Layout(spec, now or datetime.now(UTC))
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        session_base = _seed_sqlite(parsed.database or "", layout)
    elif backend in ("postgresql", "postgres"):
        conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        session_base = _seed_postgresql(conninfo, layout)
        backend = "postgresql"
    else:
        raise ValueError(f"cannot seed a {backend!r} database")
    first = layout.sessions[0]
    return SeedResult(
        backend=backend,
        sessions=spec.sessions,
        messages=spec.messages,
        seconds=time.perf_counter() - began,
        session_id_base=session_base,
        first_session=first.key,
        first_session_user=first.user,
        first_session_messages=first.count,
        window_days=spec.window_days,
        keys=tuple(s.key for s in layout.sessions),
    )


def _seed_sqlite(path: str, layout: _Layout) -> int:
    if not path or path == ":memory:":
        raise ValueError("seeding needs an SQLite file, not an in-memory database")
    connection = sqlite3.connect(path, isolation_level=None)  # transactions by hand
    try:
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute("PRAGMA cache_size=-256000")  # index pages stay in memory while loading
        # One big transaction through a WAL would write every page twice (WAL, then checkpoint);
        # a rollback journal holds only the few pages that existed before. WAL again afterwards.
        journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN IMMEDIATE")
        session_base = connection.execute("SELECT coalesce(max(id), 0) FROM coaching_sessions").fetchone()[0]
        message_base = connection.execute("SELECT coalesce(max(id), 0) FROM chat_messages").fetchone()[0]
        for batch in _batches(layout.session_rows(session_base, _naive_utc_text)):
            connection.executemany(
                f"INSERT INTO coaching_sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", batch
            )
        rows = layout.message_rows(layout.message_order(), message_base, session_base, _naive_utc_text)
        for batch in _batches(rows):
            connection.executemany(
                f"INSERT INTO chat_messages ({_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", batch
            )
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
        connection.execute(f"PRAGMA journal_mode={journal_mode}")
    finally:
        connection.close()
    return int(session_base)


def _seed_postgresql(conninfo: str, layout: _Layout) -> int:
    with psycopg.connect(conninfo) as connection:
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE coaching_sessions, chat_messages IN EXCLUSIVE MODE")
            session_base = _max_id(cursor, "coaching_sessions")
            message_base = _max_id(cursor, "chat_messages")
            with cursor.copy(f"COPY coaching_sessions ({_SESSION_COLUMNS}) FROM STDIN") as copy:
                for row in layout.session_rows(session_base, _pg_utc_text):
                    copy.write_row(row)
            rows = layout.message_rows(layout.message_order(), message_base, session_base, _pg_utc_text)
            with cursor.copy(f"COPY chat_messages ({_MESSAGE_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            for table in ("coaching_sessions", "chat_messages"):  # later inserts continue after ours
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE) coaching_sessions, chat_messages")
    return session_base


def _max_id(cursor: psycopg.Cursor[Any], table: str) -> int:
    found = cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    return int(found[0]) if found else 0
