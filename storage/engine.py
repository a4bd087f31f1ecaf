"""Engines for coachbot's database: URL translation, pool and connection tuning.

``Settings.database_url`` is a plain URL (``sqlite:///coachbot.db``, ``postgresql://…``); the app
runs on asyncio drivers (aiosqlite, asyncpg) while Alembic runs synchronously (pysqlite, psycopg),
so both spellings are derived here from the one setting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote_plus

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.engine.base import OptionEngine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: The performance guide's PostgreSQL pool: 10 kept, 20 more under bursts, recycled hourly.
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 20
PG_POOL_RECYCLE_SECONDS = 3600
#: A runaway query fails after 30 s instead of pinning a pooled connection.
PG_STATEMENT_TIMEOUT_MS = 30_000
#: The guide's pre-ping, for connections idle longer than this (see ``_ping_when_idle``).
PG_PING_AFTER_IDLE_SECONDS = 10.0

#: Applied to every new SQLite connection: wait up to 5 s for a lock instead of failing (first,
#: so that switching a fresh file to WAL waits too), WAL so readers run beside the writer, 64 MB
#: page cache, enforce ON DELETE CASCADE, and NORMAL sync (safe with WAL; no fsync per commit).
SQLITE_PRAGMAS: tuple[str, ...] = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA cache_size=-64000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)

_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
_SYNC_DRIVERS = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite"}
# libpq spells TLS "sslmode=…", asyncpg's connect() takes "ssl=…" with the same mode names.
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


def _backend(url: URL) -> str:
    backend = url.drivername.split("+", 1)[0]
    if backend == "postgres":  # Heroku-style URLs
        return "postgresql"
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database URL scheme {url.drivername!r}; use sqlite or postgresql")
    return backend


def _rename_query_key(url: URL, old: str, new: str) -> URL:
    value = url.query.get(old)
    if not isinstance(value, str) or value not in _SSL_MODES or new in url.query:
        return url
    return url.difference_update_query([old]).update_query_dict({new: value})


def async_url(url: str) -> str:
    """The URL with its asyncio driver: asyncpg for PostgreSQL, aiosqlite for SQLite."""
    parsed = make_url(url)
    backend = _backend(parsed)
    parsed = parsed.set(drivername=_ASYNC_DRIVERS[backend])
    if backend == "postgresql":
        parsed = _rename_query_key(parsed, "sslmode", "ssl")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The URL with its blocking driver (psycopg 3 / pysqlite), as Alembic needs."""
    parsed = make_url(url)
    backend = _backend(parsed)
    parsed = parsed.set(drivername=_SYNC_DRIVERS[backend])
    if backend == "postgresql":
        parsed = _rename_query_key(parsed, "ssl", "sslmode")
    return parsed.render_as_string(hide_password=False)


def _is_sqlite_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or database.startswith("file::memory:")


def set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """A "connect" listener for every SQLite engine (the app's, the jobs'): busy_timeout waits for
    the app's writer, WAL lets readers run beside it, foreign keys cascade."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _note_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    connection_record.info["coachbot_idle_since"] = time.monotonic()


def _ping_when_idle(ping_after_idle: float) -> Callable[[Any, Any, Any], None]:
    """A pool ``checkout`` listener: the guide's pre-ping, only for connections idle a while.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout, which on asyncpg is BEGIN, SELECT,
    ROLLBACK: three round trips, ~0.5 ms, a tenth of a coaching turn's budget (bench.storage_lookup).
    A connection the server closed (a terminated backend, a restart) is known closed without a
    round trip: asyncpg saw the socket close. One in use moments ago is alive; one idle for a
    while may have been dropped silently (idle timeouts, a vanished host) and is pinged. Either
    way a dead one raises DisconnectionError, on which the pool reconnects that slot. What slips
    through (a close the event loop has not read yet) fails its first statement and is retried
    once by ``RetryOnceConnection``.
    """

    def ping_if_idle(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
        if _is_known_closed(dbapi_connection):
            raise DisconnectionError("a pooled connection was closed by the server")
        idle_since = connection_record.info.get("coachbot_idle_since")
        if idle_since is None or time.monotonic() - idle_since < ping_after_idle:
            return  # new, or in use moments ago
        try:
            dbapi_connection.ping()
        except Exception as error:  # any failure: the pool retries with another connection
            raise DisconnectionError("an idle pooled connection failed its ping") from error

    return ping_if_idle


def _is_known_closed(dbapi_connection: Any) -> bool:
    """asyncpg's own view of its socket (no round trip); False for drivers without one."""
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


class RetryOnceConnection(Connection):
    """A Connection whose first statement is retried once on a fresh connection after a disconnect.

    A pooled connection can die between two uses (a failover, a restart, a terminated backend)
    without the pool knowing. Its first statement then fails before anything of this checkout
    was written, so running it again on a new connection is safe: SQLAlchemy has invalidated the
    dead one (and, for a disconnect, every pooled connection older than it), a rollback clears
    the failed transaction, and the next execute reconnects. Only the first statement: after
    one has succeeded, a later failure may follow writes the server has already applied, and the
    caller must see it. Statements that are not idempotent could, in the rare case that the
    server died after running them but before answering, run twice; the app's writes on the hot
    path are idempotent (event claims, ``ON CONFLICT``).
    """

    _coachbot_used = False

    def _execute_context(self, *args: Any, **kw: Any) -> Any:
        if self._coachbot_used:
            return super()._execute_context(*args, **kw)
        self._coachbot_used = True
        try:
            return super()._execute_context(*args, **kw)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            logger.warning(
                "A pooled database connection was dead (%s); retrying once on a fresh one",
                type(error.orig).__name__,
            )
            if self.in_transaction():
                self.rollback()
            self._keep_isolation_level()
            return super()._execute_context(*args, **kw)

    def _keep_isolation_level(self) -> None:
        """Reconnect now, with this connection's isolation level (AUTOCOMMIT on the hot path).

        SQLAlchemy sets an ``execution_options(isolation_level=…)`` level on the DBAPI connection
        it had; the fresh one it reconnects to would start with the default, so an autocommit
        statement would run in a transaction nobody commits, and be rolled back on check-in.
        """
        level = self.get_execution_options().get("isolation_level")
        self.connection  # noqa: B018  (the property reconnects an invalidated connection)
        if level is not None:
            self.dialect.set_connection_execution_options(self, {"isolation_level": level})


class _RetryOnceOptionEngine(OptionEngine):
    """``engine.execution_options(…)`` copies keep the retrying connections."""

    _connection_cls = RetryOnceConnection


_RetryOnceOptionEngine._option_cls = _RetryOnceOptionEngine


def retry_first_statement(engine: Engine) -> None:
    """Make every connection of ``engine`` (and of its option copies) a ``RetryOnceConnection``."""
    engine._connection_cls = RetryOnceConnection  # type: ignore[misc]
    engine._option_cls = _RetryOnceOptionEngine  # type: ignore[misc]


def create_db_engine(
    url: str, *, echo: bool = False, ping_after_idle: float = PG_PING_AFTER_IDLE_SECONDS
) -> AsyncEngine:
    """The app's AsyncEngine, tuned per dialect as the performance guide prescribes.

    ``echo`` is ``Settings.debug``: log every SQL statement. PostgreSQL connections idle for
    ``ping_after_idle`` seconds are pinged before use (``_ping_when_idle``); the pool hands out
    the most recently used connection first, so a busy app keeps using warm, proven ones.
    """
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() == "postgresql":
        pg_engine = create_async_engine(
            parsed,
            echo=echo,
            pool_size=PG_POOL_SIZE,
            max_overflow=PG_MAX_OVERFLOW,
            pool_recycle=PG_POOL_RECYCLE_SECONDS,
            pool_use_lifo=True,
            hide_parameters=True,  # a failed statement's error never carries a coach's text
            connect_args={
                "server_settings": {
                    "statement_timeout": str(PG_STATEMENT_TIMEOUT_MS),
                    "application_name": "coachbot",
                }
            },
        )
        event.listen(pg_engine.sync_engine.pool, "checkin", _note_checkin)
        event.listen(pg_engine.sync_engine.pool, "checkout", _ping_when_idle(ping_after_idle))
        retry_first_statement(pg_engine.sync_engine)
        return pg_engine
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if _is_sqlite_memory(parsed):
        # Every connection to ":memory:" is a new, empty database: share one.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = create_async_engine(parsed, **kwargs)
    event.listen(engine.sync_engine, "connect", set_sqlite_pragmas)
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """ORM sessions for the non-hot paths; objects stay readable after commit (no lazy reloads)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def pool_status(engine: AsyncEngine) -> dict[str, Any]:
    """A snapshot of the connection pool for the admin /perf command.

    Only queue pools have size/overflow; a StaticPool or NullPool reports just its class.
    ``overflow`` is SQLAlchemy's counter: negative while fewer than ``size`` connections exist.
    """
    pool = engine.pool
    status: dict[str, Any] = {"pool": type(pool).__name__}
    for key, method in (
        ("size", "size"),
        ("checked_in", "checkedin"),
        ("checked_out", "checkedout"),
        ("overflow", "overflow"),
    ):
        getter = getattr(pool, method, None)
        if callable(getter):
            status[key] = getter()
    max_overflow = getattr(pool, "_max_overflow", None)
    if isinstance(max_overflow, int):
        status["max_overflow"] = max_overflow
    return status


async def warm_pool(engine: AsyncEngine) -> int:
    """Open the pool's standing connections now, so a burst at start-up does not wait on connects.

    Returns how many were opened (none for SQLite, whose connections are local files).
    """
    size = getattr(engine.pool, "size", None)
    if engine.dialect.name != "postgresql" or not callable(size):
        return 0
    connections = await asyncio.gather(*(engine.connect() for _ in range(size())))
    for connection in connections:
        await connection.close()
    return len(connections)


def _share_query_listeners(source: Engine, target: Engine) -> None:
    """Whatever watches ``source``'s queries (the query timing behind /perf) watches ``target``'s too."""
    for name in ("before_cursor_execute", "after_cursor_execute"):
        for listener in getattr(source.dispatch, name):
            event.listen(target, name, listener)
    for listener in source.dialect.dispatch.handle_error:  # dialect-level event
        event.listen(target, "handle_error", listener)


def dialect_insert(engine: AsyncEngine) -> Any:
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing``); only our two databases."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return postgresql_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise ValueError(f"unsupported database dialect {dialect!r}")


def reads_without_transaction(engine: AsyncEngine) -> AsyncEngine:
    """An engine whose reads skip BEGIN/COMMIT round trips.

    PostgreSQL: AUTOCOMMIT on the same pool, switched per checkout without a round trip.
    SQLite: pysqlite opens a transaction only before DML, so reads already run without one.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class SqliteWriter:
    """All of a SQLite database's write transactions, one at a time, each in one hop.

    A file: one thread with its own connection. Through aiosqlite every statement, fetch and
    commit is a round trip to a worker thread; a turn's write is a dozen of them. Here the whole
    transaction runs as one synchronous function, and writers queue for the thread, which is
    what SQLite allows anyway: one writer at a time. An in-memory database cannot be shared
    with a second engine, so its transactions queue on a lock and run on the app's own engine.
    Stores on the same database share one writer (``bot.assembly.app`` hands it on).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._async_engine = engine
        self._lock = asyncio.Lock()
        self._engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if not _is_sqlite_memory(engine.url):
            self._engine = create_engine(
                sync_url(engine.url.render_as_string(hide_password=False)), hide_parameters=True
            )
            event.listen(self._engine, "connect", set_sqlite_pragmas)
            _share_query_listeners(engine.sync_engine, self._engine)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteWriter | None:
        """A writer for a SQLite engine; None for PostgreSQL, whose writers need no queue."""
        return cls(engine) if engine.dialect.name == "sqlite" else None

    async def run(self, transaction: Callable[[Connection], T]) -> T:
        if self._thread is None:
            async with self._lock, self._async_engine.connect() as conn:
                return await conn.run_sync(transaction)
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self._in_connection, transaction
        )

    def _in_connection(self, transaction: Callable[[Connection], T]) -> T:
        assert self._engine is not None
        with self._engine.connect() as connection:  # leaving without commit rolls back
            return transaction(connection)

    async def close(self) -> None:
        if self._thread is None or self._engine is None:
            return
        await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
        self._thread.shutdown(wait=True)


def database_url_from_env(env: Mapping[str, str]) -> str:
    """DATABASE_URL wins; ENVIRONMENT=production builds PostgreSQL from DB_*; else SQLite."""
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    if (env.get("ENVIRONMENT") or "").lower() == "production":
        user = quote_plus(env.get("DB_USER", "postgres"))
        password = env.get("DB_PASSWORD", "")
        auth = f"{user}:{quote_plus(password)}" if password else user
        host = env.get("DB_HOST", "localhost")
        port = env.get("DB_PORT", "5432")
        name = env.get("DB_NAME", "coachbot")
        return f"postgresql://{auth}@{host}:{port}/{name}"
    return f"sqlite:///{env.get('SQLITE_DB_PATH') or 'coachbot.db'}"
