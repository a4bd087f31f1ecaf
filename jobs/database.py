"""The jobs' own synchronous engine: heavy aggregates and purges stay off the event loop.

A job runs in a scheduler thread. Going through the app's AsyncEngine would mean hopping onto the
event loop for every statement (and doing the report's Python work there); a small blocking engine
in the job's own thread keeps the loop free for coaching turns and leaves the app's connection
pool to them. Two connections are plenty: jobs run one at a time per kind, rarely together.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from storage.engine import PG_POOL_RECYCLE_SECONDS, set_sqlite_pragmas, sync_url

POOL_SIZE = 2
MAX_OVERFLOW = 2
#: Longer than the app's 30 s: a purge of a big backlog may run a while, in batches.
PG_STATEMENT_TIMEOUT_MS = 120_000


def create_jobs_engine(database_url: str) -> Engine:
    """A blocking engine on the app's database (psycopg / pysqlite), tuned like the app's."""
    url = sync_url(database_url)
    if make_url(url).get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
            pool_pre_ping=True,
            hide_parameters=True,  # a failed statement's error never carries a coach's text
            pool_recycle=PG_POOL_RECYCLE_SECONDS,
            connect_args={
                "application_name": "coachbot-jobs",
                "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS}",
            },
        )
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, hide_parameters=True)
    event.listen(engine, "connect", set_sqlite_pragmas)
    return engine
