"""Working hours: 9:00 up to 17:00, Monday to Friday, in the coach's own Slack timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.checkins.working_hours import CoachTime, zone_of

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("utc", "inside"),
    [
        (datetime(2026, 12, 2, 13, 59, tzinfo=UTC), False),  # Wednesday 8:59 in New York
        (datetime(2026, 12, 2, 14, 0, tzinfo=UTC), True),  # 9:00
        (datetime(2026, 12, 2, 21, 59, tzinfo=UTC), True),  # 16:59
        (datetime(2026, 12, 2, 22, 0, tzinfo=UTC), False),  # 17:00
        (datetime(2026, 12, 5, 15, 0, tzinfo=UTC), False),  # Saturday 10:00
        (datetime(2026, 12, 7, 3, 0, tzinfo=UTC), False),  # Sunday 22:00 (Monday in UTC)
    ],
)
def test_working_hours_are_the_coachs_own(utc: datetime, inside: bool) -> None:
    assert CoachTime.at(utc, NEW_YORK).in_working_hours is inside


def test_after_friday_afternoon_the_next_working_hours_are_monday_morning() -> None:
    friday_evening = CoachTime.at(datetime(2026, 12, 4, 23, 0, tzinfo=UTC), NEW_YORK)

    assert friday_evening.next_working_start() == datetime(2026, 12, 7, 9, 0, tzinfo=NEW_YORK)


def test_the_timezone_is_slacks_tz_else_its_offset_else_utc() -> None:
    assert zone_of({"tz": "Asia/Kolkata", "tz_offset": 0}) == ZoneInfo("Asia/Kolkata")
    assert zone_of({"tz": "Not/AZone", "tz_offset": 19800}) == timezone(timedelta(hours=5, minutes=30))
    assert zone_of({}) == UTC


def test_now_must_know_its_timezone() -> None:
    with pytest.raises(ValueError):
        CoachTime.at(datetime(2026, 12, 2, 14, 0), NEW_YORK)
