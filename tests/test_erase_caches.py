"""A coach's erasure drops their entries from every cache of the process, and nobody else's."""

from __future__ import annotations

import functools

from bot.erase.service import names_coach
from storage.caches import CacheRegistry
from storage.memory_records import Coach
from storage.turn_records import SessionKey

COACH, OTHER = Coach("T0TEAM", "U0COACH"), Coach("T0TEAM", "U0OTHER")


def test_every_kind_of_key_a_coach_is_cached_under_is_dropped_and_only_theirs() -> None:
    caches = CacheRegistry()
    caches.get("memory").set(COACH, "their goals")
    caches.get("memory").set(OTHER, "someone else's goals")
    caches.get("sessions").set(SessionKey("T0TEAM", "D0COACH", "1.1"), 41)
    caches.get("sessions").set(SessionKey("T0TEAM", "D0OTHER", "2.2"), 52)
    caches.get("file_listings").set(41, ("report.pdf",))
    caches.get("file_listings").set(52, ("theirs.pdf",))
    caches.get("slack_users").set(("T0TEAM", "U0COACH"), "America/New_York")
    caches.get("slack_users").set(("T0OTHER", "U0COACH"), "Europe/Paris")  # same id, other workspace
    caches.get("slack_api").set(("users.info:admin", "T0TEAM", "U0COACH"), True)
    caches.get("slack_api").set(("users.info:admin", "T0TEAM", "U0OTHER"), True)

    doomed = functools.partial(names_coach, coach=COACH, session_ids=frozenset({41}))
    dropped = sum(caches.get(name).drop_where(doomed) for name in caches.names())

    assert dropped == 5
    assert caches.get("memory").get(OTHER) == "someone else's goals"
    assert caches.get("sessions").get(SessionKey("T0TEAM", "D0OTHER", "2.2")) == 52
    assert caches.get("file_listings").get(52) == ("theirs.pdf",)
    assert caches.get("slack_users").get(("T0OTHER", "U0COACH")) == "Europe/Paris"
    assert caches.get("slack_api").get(("users.info:admin", "T0TEAM", "U0OTHER")) is True
    assert {stats["entries"] for stats in caches.stats().values()} <= {0, 1}
