"""The schema's foundations: the declarative base, its naming convention, and the column types.

Every table module (storage/models.py, storage/memory_models.py) builds on this one ``Base``,
so there is one ``MetaData`` for the application and for Alembic autogenerate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

#: Names for constraints SQLAlchemy would otherwise leave to the database, so that both
#: dialects (and later migrations that drop or alter them) agree on one name.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Slack ids ("T0123ABCD", "C…", "U…", "Ev…") and timestamps ("1700000000.123456") are short;
# the bound leaves room without costing anything (VARCHAR(n) is stored by actual length).
SLACK_ID_LENGTH = 64
TITLE_LENGTH = 255
ATTACHMENT_NAME_LENGTH = 255
ATTACHMENT_MIME_LENGTH = 255
ATTACHMENT_KEY_LENGTH = 1024
LEASE_OWNER_LENGTH = 128


class MessageType(StrEnum):
    """Who said a message; stored as the plain string in ``chat_messages.message_type``."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the only kind of datetime the schema stores."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect.

    PostgreSQL's ``timestamptz`` keeps the instant, but SQLite stores naive text and would hand
    back naive datetimes; normalising to UTC on the way in and tagging UTC on the way out makes
    both return the same values and keeps SQLite's text ordering chronological.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return cast(datetime, value).replace(tzinfo=UTC)
        return cast(datetime, value).astimezone(UTC)


#: 64-bit ids on PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` is the autoincrementing rowid.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base sharing one ``MetaData`` with a naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
