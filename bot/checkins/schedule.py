"""When the next check-in about a commitment is due, after an answer.

- **Done**: none; the commitment is done.
- **Not yet**: again ``NOT_YET_DAYS`` later (then, like every check-in, in the coach's next
  working hours), at most ``MAX_ROUNDS`` check-ins per commitment: after that the commitment
  stays open in the coach's memory, but the bot stops asking.
- **Let's talk**: the conversation is the follow-up; the next check-in comes ``CHECKIN_DAYS``
  later, if the commitment is still open by then.
- No answer: none; a check-in nobody answered is never repeated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.models import CheckinAnswer

NOT_YET_DAYS = 3
MAX_ROUNDS = 4


def next_due_at(answer: CheckinAnswer, round_: int, *, now: datetime, checkin_days: int) -> datetime | None:
    """When round ``round_ + 1`` becomes due after ``answer``; None when there is none."""
    if answer is CheckinAnswer.DONE or round_ >= MAX_ROUNDS:
        return None
    if answer is CheckinAnswer.NOT_YET:
        return now + timedelta(days=NOT_YET_DAYS)
    return now + timedelta(days=checkin_days)
