"""Who the person at the page can be, and the conversations the page shows each of them."""

from __future__ import annotations

from dataclasses import dataclass

#: The channel where coachbot can be @mentioned; every person is a member.
TEAM_CHANNEL = "C0TEAM"
TEAM_CHANNEL_NAME = "team"


@dataclass(frozen=True)
class Person:
    """A workspace member the page can act as, with their own DM with the bot."""

    user_id: str
    name: str
    role: str
    dm_channel: str
    is_admin: bool = False


PEOPLE: tuple[Person, ...] = (
    Person("U0COACH", "Casey", "coach", "D0COACH"),
    Person("U0PEER", "Priya", "a second coach", "D0PEER"),
    Person("U0ADMIN", "Alex", "workspace admin", "D0ADMIN", is_admin=True),
)


def person(user_id: str) -> Person:
    """The page's person with ``user_id`` (the first one for an unknown id)."""
    return next((p for p in PEOPLE if p.user_id == user_id), PEOPLE[0])
