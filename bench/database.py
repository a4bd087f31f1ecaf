"""A fresh, throw-away database per run, so results never depend on what an earlier run left behind."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    kind: str  # "sqlite" or "postgresql"
    server_version: str | None = None


@contextmanager
def temporary_database(server_url: str | None) -> Iterator[BenchDatabase]:
    """SQLite in a temp dir by default; with a postgresql:// URL, ``coachbot_bench_<random>`` on that server.

    The PostgreSQL database is dropped (WITH FORCE: a killed app may leave connections) on the way out.
    """
    if not server_url:
        with tempfile.TemporaryDirectory(prefix="coachbot-bench-") as folder:
            yield BenchDatabase(url=f"sqlite:///{Path(folder) / 'bench.db'}", kind="sqlite")
        return
    server = make_url(server_url)
    if server.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError(f"--database-url must be a postgresql:// URL, got {server.drivername!r}")
    admin_url = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"coachbot_bench_{secrets.token_hex(4)}"
    with _admin(admin_url) as admin:
        version = str(admin.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        yield BenchDatabase(url=url, kind="postgresql", server_version=version)
    finally:
        with _admin(admin_url) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def _admin(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:
        yield connection
