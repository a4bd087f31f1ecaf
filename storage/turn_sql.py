"""The SQL of a coach's message: one PostgreSQL statement, and the lease claim both dialects share.

A coach's message is stored, counted as owed a reply (``coaching_sessions.coach_seq``) and, when
no live turn holds the session, leased to the turn that will answer it, all in one write. On
PostgreSQL that write is the single statement ``pg_turn_sql`` builds (one round trip, atomic in
autocommit mode); SQLite runs the same steps as Core statements in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, case, or_

from storage.models import UtcDateTime, coaching_sessions

# Typed placeholders: a parameter used twice must have one type, and INSERT … SELECT needs them.
_PG = {
    name: f"CAST(:{name} AS {kind})"
    for name, kind in (
        ("team_id", "varchar"),
        ("channel_id", "varchar"),
        ("thread_ts", "varchar"),
        ("user_id", "varchar"),
        ("title", "varchar"),
        ("event_id", "varchar"),
        ("slack_ts", "varchar"),
        ("text", "text"),
        ("now", "timestamptz"),
        ("said_at", "timestamptz"),
        ("history_limit", "bigint"),
        ("lease_owner", "varchar"),
        ("lease_until", "timestamptz"),
    )
}
_PG_THREAD = "team_id = {team_id} AND channel_id = {channel_id} AND thread_ts = {thread_ts}"
# The lease is free when nobody holds it or its holder stopped renewing it (a dead process).
_PG_TAKES = "({lease_owner} IS NOT NULL AND (s.lease_expires_at IS NULL OR s.lease_expires_at < {now}))"
_PG_COUNT_AND_LEASE = (
    "coach_seq = s.coach_seq + 1, "
    f"lease_owner = CASE WHEN {_PG_TAKES} THEN {{lease_owner}} ELSE s.lease_owner END, "
    f"lease_expires_at = CASE WHEN {_PG_TAKES} THEN {{lease_until}} ELSE s.lease_expires_at END"
)
_PG_RETURNING = (
    "s.attachment_count, s.coach_seq, s.answered_seq, s.lease_stream_ts, "
    "COALESCE(s.lease_owner = {lease_owner}, false) AS leased"
)


def pg_turn_sql(*, claim: bool, start_session: bool) -> str:
    """A coach's message in one PostgreSQL statement, atomic in autocommit mode.

    Data-modifying CTEs: claim the event id, upsert (``start_session``) or touch the thread's
    session, insert the message, each guarded by the step before, so a redelivered event, an
    unknown thread, an already stored Slack message or someone other than the session's coach
    writes nothing new (a duplicate message under a new event id keeps its claim). The session
    step also counts the message as owed a reply and takes the turn's lease when it is free, under
    the row's lock, so a reply finishing at the same moment sees the count. ``xmax = 0`` tells a
    row this statement inserted from one its ``ON CONFLICT DO UPDATE`` touched. The outer query
    returns one ``part = 0`` row for a stored message, then (for an existing session) the newest
    ``history_limit`` earlier messages: the statement's snapshot predates its own insert, so the
    caller adds the new one; and a ``part = 3`` row, the session's opening (first coach message).
    With nothing stored, a ``part = 2`` row names the thread's coach.
    """
    ctes = []
    if claim:
        # A follow-up only claims in a thread that is a session: channel chatter leaves no rows.
        guard = "" if start_session else f"WHERE EXISTS (SELECT 1 FROM coaching_sessions WHERE {_PG_THREAD})"
        ctes.append(
            "turn_claim AS (INSERT INTO processed_events (team_id, event_id, received_at) "
            "SELECT {team_id}, {event_id}, {now} "
            + guard
            + " ON CONFLICT (team_id, event_id) DO NOTHING RETURNING id)"
        )
    # A Slack message already stored (under another event id) counts no second time.
    fresh = (
        "NOT EXISTS (SELECT 1 FROM chat_messages m JOIN coaching_sessions t ON t.id = m.session_id "
        f"WHERE t.{_PG_THREAD.replace(' AND ', ' AND t.')} AND m.slack_ts = {{slack_ts}})"
    )
    # A coach who erased their data after Slack dated this message: a redelivery, or a turn
    # still being stored when the delete landed, must not bring any of it back.
    fresh += (
        " AND NOT EXISTS (SELECT 1 FROM coach_erasures WHERE team_id = {team_id} "
        "AND user_id = {user_id} AND erased_at >= {said_at})"
    )
    ctes.append(f"turn_thread AS (SELECT id, user_id FROM coaching_sessions WHERE {_PG_THREAD})")
    if start_session:
        source = "FROM turn_claim " if claim else ""
        ctes.append(
            "turn_session AS (INSERT INTO coaching_sessions AS s "
            "(team_id, channel_id, thread_ts, user_id, is_active, title, created_at, updated_at, "
            "coach_seq, lease_owner, lease_expires_at) "
            "SELECT {team_id}, {channel_id}, {thread_ts}, {user_id}, true, {title}, {now}, {now}, "
            "1, {lease_owner}, {lease_until} " + source + f"WHERE {fresh} "
            "ON CONFLICT (team_id, channel_id, thread_ts) "
            f"DO UPDATE SET updated_at = EXCLUDED.updated_at, {_PG_COUNT_AND_LEASE} "
            "WHERE s.user_id = EXCLUDED.user_id "
            f"RETURNING s.id, s.xmax = 0 AS created, {_PG_RETURNING})"
        )
    else:
        guard = "AND EXISTS (SELECT 1 FROM turn_claim)" if claim else ""
        ctes.append(
            "turn_session AS (UPDATE coaching_sessions AS s SET updated_at = {now}, "
            f"{_PG_COUNT_AND_LEASE} "
            f"WHERE s.{_PG_THREAD.replace(' AND ', ' AND s.')} AND s.user_id = {{user_id}} AND {fresh} "
            f"{guard} RETURNING s.id, false AS created, {_PG_RETURNING})"
        )
    ctes.append(
        "turn_message AS (INSERT INTO chat_messages (session_id, message_type, slack_ts, text, timestamp) "
        "SELECT id, 'user', {slack_ts}, {text}, {said_at} FROM turn_session "
        "ON CONFLICT (session_id, slack_ts) DO NOTHING RETURNING id, session_id)"
    )
    sql = (
        "WITH "
        + ", ".join(ctes)
        + " SELECT 0 AS part, m.session_id, m.id, s.created, s.attachment_count, NULL AS message_type, "
        "NULL AS text, NULL AS at, s.coach_seq, s.answered_seq, s.lease_stream_ts, s.leased "
        "FROM turn_message m JOIN turn_session s ON s.id = m.session_id "
        "UNION ALL (SELECT 1, h.session_id, h.id, NULL, NULL, h.message_type, h.text, h.timestamp, "
        "NULL, NULL, NULL, NULL "
        "FROM chat_messages h WHERE h.session_id = (SELECT session_id FROM turn_message) "
        "AND NOT (SELECT created FROM turn_session) "
        "ORDER BY h.timestamp DESC, h.id DESC LIMIT {history_limit}) "
        # The session's opening, its first coach message, which a trimmed prompt keeps.
        "UNION ALL (SELECT 3, o.session_id, o.id, NULL, NULL, o.message_type, o.text, o.timestamp, "
        "NULL, NULL, NULL, NULL "
        "FROM chat_messages o WHERE o.session_id = (SELECT session_id FROM turn_message) "
        "AND NOT (SELECT created FROM turn_session) AND o.message_type = 'user' "
        "ORDER BY o.timestamp, o.id LIMIT 1) "
        "UNION ALL SELECT 2, t.id, NULL, NULL, NULL, NULL, t.user_id, NULL, NULL, NULL, NULL, NULL "
        "FROM turn_thread t WHERE NOT EXISTS (SELECT 1 FROM turn_message)"
    )
    return sql.format(**_PG)


def lease_claim_values() -> dict[str, Any]:
    """``UPDATE coaching_sessions`` values that count a coach message and take a free lease.

    The Core twin of the PostgreSQL statement's ``_PG_COUNT_AND_LEASE``, for SQLite's
    transaction; binds ``b_owner`` (None: count only, take nothing), ``b_until`` and ``b_now``.
    """
    s = coaching_sessions
    owner = bindparam("b_owner", type_=String)
    takes = and_(
        owner.isnot(None),
        or_(s.c.lease_expires_at.is_(None), s.c.lease_expires_at < bindparam("b_now", type_=UtcDateTime)),
    )
    return {
        "coach_seq": s.c.coach_seq + 1,
        "lease_owner": case((takes, owner), else_=s.c.lease_owner),
        "lease_expires_at": case(
            (takes, bindparam("b_until", type_=UtcDateTime)), else_=s.c.lease_expires_at
        ),
    }


def slack_time(ts: str | None, fallback: datetime) -> datetime:
    """When Slack says a message was posted (its ``ts``), so history sorts in Slack's order.

    ``fallback`` for a message Slack never numbered (a note, or a reply never posted).
    """
    if not ts:
        return fallback
    seconds, _, fraction = ts.partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        return fallback
    try:
        moment = datetime.fromtimestamp(int(seconds), fallback.tzinfo)
    except (OverflowError, OSError, ValueError):
        return fallback
    return moment.replace(microsecond=int((fraction or "0")[:6].ljust(6, "0")))
