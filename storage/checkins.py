"""Check-ins in the database: which are due, recording one sent, answering one, opting out.

Every function takes a synchronous ``Connection`` and plain values, and a write commits its own
transaction: the check-in job runs them on the jobs' engine in its worker thread, and the
buttons' service through ``ConversationStore.run_write`` (the SQLite writer thread, or
``run_sync`` on PostgreSQL), so there is one copy of each query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, and_, delete, exists, func, literal, or_, select, update

from storage.engine import dialect_insert
from storage.models import (
    CheckinAnswer,
    CommitmentStatus,
    MessageType,
    chat_messages,
    checkin_opt_outs,
    checkins,
    coach_commitments,
    coaching_sessions,
    workspace_settings,
)
from storage.turn_sql import slack_time

#: The check-in claims' job in ``job_runs`` (period ``<commitment>/<round>``).
CHECKIN_JOB = "checkin"
#: A coach's local date is at most 14 hours ahead of UTC (UTC+14): the SQL pre-filter's horizon.
LOCAL_DATE_LEAD = timedelta(hours=14)
#: The fewest days after an undated commitment a workspace may ask about it (``/coach admin``).
MIN_CHECKIN_DAYS = 1


@dataclass(frozen=True)
class DueCheckin:
    """An open commitment whose next check-in may be due; ``is_due_on`` decides in the coach's zone."""

    commitment_id: int
    round: int
    team_id: str
    user_id: str
    words: str
    due_date: date | None  # the commitment's own due date (a date in the coach's calendar)
    due_at: datetime | None  # else: the instant the check-in becomes due

    @property
    def period(self) -> str:
        """The claim's period in ``job_runs``: one DM per (commitment, round)."""
        return f"{self.commitment_id}/{self.round}"

    def is_due_on(self, local_today: date, local_due_date: date | None = None) -> bool:
        """Whether it is due on the coach's ``local_today``; ``local_due_date`` is ``due_at``'s local date."""
        if self.round == 1 and self.due_date is not None:
            return local_today >= self.due_date
        return local_due_date is not None and local_today >= local_due_date


@dataclass(frozen=True)
class SentCheckin:
    """A check-in DM as stored: whose it is and where it was posted."""

    id: int
    commitment_id: int
    round: int
    team_id: str
    user_id: str
    channel_id: str
    message_ts: str
    answer: str | None
    words: str
    commitment_status: str
    #: The workspace's own ``/coach admin checkins`` days, if it set them (the next round's interval).
    workspace_checkin_days: int | None = None


def due_checkins(
    connection: Connection, *, now: datetime, checkin_days: int, max_rounds: int
) -> list[DueCheckin]:
    """Open commitments of coaches with check-ins on whose next round may be due by ``now``.

    Round 1 is due on the commitment's due date, or some days after it was made: the workspace's
    own ``workspace_settings.checkin_days`` (``/coach admin checkins``), else ``checkin_days``; a later
    round at the ``next_due_at`` its predecessor's answer set. A round already sent and not
    answered is never due again. The SQL is a pre-filter a day wide (the coach's calendar may be
    a day ahead of UTC); ``DueCheckin.is_due_on`` decides in the coach's timezone.
    """
    c, k = coach_commitments.c, checkins.c
    latest = (
        select(k.commitment_id, func.max(k.round).label("round")).group_by(k.commitment_id).subquery("latest")
    )
    last = checkins.alias("last")
    horizon = now + LOCAL_DATE_LEAD
    opted_out = exists().where(
        checkin_opt_outs.c.team_id == c.team_id, checkin_opt_outs.c.user_id == c.user_id
    )
    first_due = and_(
        latest.c.round.is_(None),
        or_(
            and_(c.due_date.is_not(None), c.due_date <= horizon.date()),
            # A workspace may ask after as little as a day; the exact days are applied below.
            and_(c.due_date.is_(None), c.created_at <= horizon - timedelta(days=MIN_CHECKIN_DAYS)),
        ),
    )
    next_due = and_(
        last.c.next_due_at.is_not(None), last.c.next_due_at <= horizon, latest.c.round < max_rounds
    )
    rows = connection.execute(
        select(
            c.id,
            c.team_id,
            c.user_id,
            c.text,
            c.due_date,
            c.created_at,
            latest.c.round,
            last.c.next_due_at,
            workspace_settings.c.checkin_days.label("workspace_days"),
        )
        .select_from(
            coach_commitments.outerjoin(latest, latest.c.commitment_id == c.id)
            .outerjoin(last, and_(last.c.commitment_id == c.id, last.c.round == latest.c.round))
            .outerjoin(workspace_settings, workspace_settings.c.team_id == c.team_id)
        )
        .where(c.status == CommitmentStatus.OPEN.value, ~opted_out, or_(first_due, next_due))
        .order_by(c.id)
    ).all()
    found = []
    for row in rows:
        if row.round is None:
            days = row.workspace_days or checkin_days
            due_at = None if row.due_date else row.created_at + timedelta(days=days)
            if due_at is not None and due_at > horizon:
                continue
            found.append(DueCheckin(row.id, 1, row.team_id, row.user_id, row.text, row.due_date, due_at))
        else:
            found.append(
                DueCheckin(
                    row.id, row.round + 1, row.team_id, row.user_id, row.text, row.due_date, row.next_due_at
                )
            )
    return found


def record_sent(
    connection: Connection, due: DueCheckin, *, channel_id: str, message_ts: str, now: datetime
) -> int | None:
    """Store the posted check-in DM; its id, or None when the commitment is gone (the coach
    forgot it or erased their data while it was being sent)."""
    row = {
        "commitment_id": due.commitment_id,
        "round": due.round,
        "team_id": due.team_id,
        "user_id": due.user_id,
        "channel_id": channel_id,
        "message_ts": message_ts,
        "sent_at": now,
    }
    still_there = select(*(literal(value, checkins.c[name].type) for name, value in row.items())).where(
        exists().where(coach_commitments.c.id == due.commitment_id)
    )
    checkin_id = connection.execute(
        checkins.insert().from_select(list(row), still_there).returning(checkins.c.id)
    ).scalar_one_or_none()
    connection.commit()
    return None if checkin_id is None else int(checkin_id)


SENT_COLUMNS = (
    checkins.c.id,
    checkins.c.commitment_id,
    checkins.c.round,
    checkins.c.team_id,
    checkins.c.user_id,
    checkins.c.channel_id,
    checkins.c.message_ts,
    checkins.c.answer,
    coach_commitments.c.text,
    coach_commitments.c.status,
    workspace_settings.c.checkin_days,
)


def find_checkin(connection: Connection, commitment_id: int, round_: int) -> SentCheckin | None:
    """The stored check-in of (commitment, round), with its commitment's words and status."""
    k, c = checkins.c, coach_commitments.c
    row = connection.execute(
        select(*SENT_COLUMNS)
        .join_from(checkins, coach_commitments, c.id == k.commitment_id)
        .outerjoin(workspace_settings, workspace_settings.c.team_id == k.team_id)
        .where(k.commitment_id == commitment_id, k.round == round_)
    ).first()
    if row is None:
        return None
    return SentCheckin(*row)


def answer_checkin(
    connection: Connection,
    checkin: SentCheckin,
    answer: CheckinAnswer,
    *,
    now: datetime,
    next_due_at: datetime | None,
) -> bool:
    """Record the answer, once: False when the check-in was answered already (a double press).

    "Done" also marks the commitment done, in the same transaction, only if it belongs to the
    same coach (the rows were matched to the presser before; this keeps it so).
    """
    answered = connection.execute(
        update(checkins)
        .where(checkins.c.id == checkin.id, checkins.c.answer.is_(None))
        .values(answer=answer.value, answered_at=now, next_due_at=next_due_at)
    ).rowcount
    if answered != 1:
        connection.rollback()
        return False
    if answer is CheckinAnswer.DONE:
        c = coach_commitments.c
        connection.execute(
            update(coach_commitments)
            .where(
                c.id == checkin.commitment_id,
                c.team_id == checkin.team_id,
                c.user_id == checkin.user_id,
                c.status == CommitmentStatus.OPEN.value,
            )
            .values(status=CommitmentStatus.DONE.value, done_at=now, updated_at=now)
        )
    connection.commit()
    return True


def open_talk_session(
    connection: Connection,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    user_id: str,
    title: str,
    opening: str,
    now: datetime,
) -> int:
    """A new session for the thread of ``thread_ts``, owned by the coach, opening with ``opening``.

    The opening is stored as the coach bot's first message, so every turn in the thread has the
    commitment in its history.
    """
    session_id = int(
        connection.execute(
            coaching_sessions.insert()
            .values(
                team_id=team_id,
                channel_id=channel_id,
                thread_ts=thread_ts,
                user_id=user_id,
                title=title[:255],
                created_at=now,
                updated_at=now,
            )
            .returning(coaching_sessions.c.id)
        ).scalar_one()
    )
    connection.execute(
        chat_messages.insert().values(
            session_id=session_id,
            message_type=MessageType.ASSISTANT.value,
            slack_ts=thread_ts,
            text=opening,
            timestamp=slack_time(thread_ts, now),  # history goes in Slack's order
        )
    )
    connection.commit()
    return session_id


def checkins_enabled(connection: Connection, team_id: str, user_id: str) -> bool:
    found = connection.execute(
        select(checkin_opt_outs.c.user_id).where(
            checkin_opt_outs.c.team_id == team_id, checkin_opt_outs.c.user_id == user_id
        )
    ).first()
    return found is None


def set_checkins_enabled(connection: Connection, team_id: str, user_id: str, enabled: bool) -> None:
    """Turn a coach's check-ins on (no row) or off (a row); idempotent either way."""
    if enabled:
        connection.execute(
            delete(checkin_opt_outs).where(
                checkin_opt_outs.c.team_id == team_id, checkin_opt_outs.c.user_id == user_id
            )
        )
    else:
        connection.execute(
            dialect_insert(connection)(checkin_opt_outs)
            .values(team_id=team_id, user_id=user_id)
            .on_conflict_do_nothing(index_elements=["team_id", "user_id"])
        )
    connection.commit()
