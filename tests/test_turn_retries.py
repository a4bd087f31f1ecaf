"""Which database errors the turn's final write waits out: a server going away, never a refused statement."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.conversation.turns import _connection_lost


class DriverError(Exception):
    """What SQLAlchemy's asyncpg adaptation raises: the server's SQLSTATE on ``sqlstate``."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def wrapped(sqlstate: str, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return kind("INSERT …", {}, DriverError(sqlstate))


@pytest.mark.parametrize(
    "sqlstate",
    ["57P03", "57P01", "08006", "08001"],
    ids=["starting-up", "admin-shutdown", "connection-failure", "cannot-connect"],
)
def test_a_server_going_away_or_coming_back_is_waited_out(sqlstate: str) -> None:
    assert _connection_lost(wrapped(sqlstate))


def test_a_refused_connection_is_waited_out() -> None:
    assert _connection_lost(ConnectionRefusedError())


@pytest.mark.parametrize("sqlstate", ["23505", "42P01", "22001"])
def test_a_statement_the_server_refused_is_not_retried(sqlstate: str) -> None:
    assert not _connection_lost(wrapped(sqlstate, IntegrityError))
