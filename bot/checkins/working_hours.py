"""When a coach may be sent a check-in: 9:00–17:00 on a weekday, in the coach's own Slack timezone.

The timezone is Slack's (users.info ``tz``, an IANA name, so DST is right all year); a user
object without a usable ``tz`` falls back to its ``tz_offset`` (seconds east of UTC, as of
now), and one with neither to UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_STARTS = time(9, 0)
DAY_ENDS = time(17, 0)  # exclusive: 16:59 is in, 17:00 is out
WEEKDAYS = range(0, 5)  # Monday .. Friday


def zone_of(user: dict[str, Any]) -> tzinfo:
    """The timezone of a Slack user object: ``tz``, else ``tz_offset``, else UTC."""
    name = user.get("tz")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset = user.get("tz_offset")
    if isinstance(offset, int | float) and abs(offset) < 24 * 3600:
        return timezone(timedelta(seconds=int(offset)))
    return UTC


@dataclass(frozen=True)
class CoachTime:
    """``now`` as the coach sees it."""

    local: datetime

    @classmethod
    def at(cls, now: datetime, zone: tzinfo) -> CoachTime:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return cls(now.astimezone(zone))

    @property
    def today(self) -> date:
        return self.local.date()

    @property
    def in_working_hours(self) -> bool:
        """A weekday, from 9:00 up to (not including) 17:00 local time."""
        return self.local.weekday() in WEEKDAYS and DAY_STARTS <= self.local.time() < DAY_ENDS

    def next_working_start(self) -> datetime:
        """When the coach's working hours next begin (now, if they are in them)."""
        if self.in_working_hours:
            return self.local
        day = self.today if self.local.time() < DAY_STARTS else self.today + timedelta(days=1)
        while day.weekday() not in WEEKDAYS:
            day += timedelta(days=1)
        return datetime.combine(day, DAY_STARTS, tzinfo=self.local.tzinfo)
