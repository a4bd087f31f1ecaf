"""The daily prune of ``processed_events``: Slack's delivery claims, kept past its retry window.

Every event claims a row so a retried delivery never answers twice. Slack retries within
minutes, so after a week a claim guards nothing; without this job the table grows by one row
per message forever. Deleting is idempotent, so every replica may run it; batches keep each
transaction short (SQLite has one writer, and the coaching turns write too).

The same week ends a coach's erasure record (``coach_erasures``): it refuses what Slack dated
before the delete, which only a delivery still being retried can bring, and once nothing of
that time can arrive the last row naming the coach goes too. An export claim older than
``storage.export_claims.STALE_AFTER`` was left by a replica that died mid-export; it goes as well.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from storage.export_claims import prune_export_claims
from storage.models import coach_erasures, processed_events

logger = logging.getLogger(__name__)

JOB = "event_ledger_prune"
KEEP_DAYS = 7
BATCH_ROWS = 5000


def prune_processed_events(engine: Engine, *, now: datetime, keep_days: int = KEEP_DAYS) -> int:
    """Delete delivery claims older than ``keep_days``; returns how many went."""
    cutoff = now - timedelta(days=keep_days)
    removed = 0
    while True:
        with engine.begin() as connection:
            ids = (
                select(processed_events.c.id)
                .where(processed_events.c.received_at < cutoff)
                .limit(BATCH_ROWS)
                .scalar_subquery()
            )
            deleted = connection.execute(delete(processed_events).where(processed_events.c.id.in_(ids)))
            count = deleted.rowcount or 0
        removed += count
        if count < BATCH_ROWS:
            break
    logger.info("Pruned delivery claims older than %s days: %s removed", keep_days, removed)
    return removed


def prune_erasures(engine: Engine, *, now: datetime, keep_days: int = KEEP_DAYS) -> int:
    """Delete erasure records older than ``keep_days`` (a handful of rows); returns how many."""
    with engine.begin() as connection:
        deleted = connection.execute(
            delete(coach_erasures).where(coach_erasures.c.erased_at < now - timedelta(days=keep_days))
        )
    return deleted.rowcount or 0


def prune_ledgers(engine: Engine, *, now: datetime) -> int:
    """The daily job: delivery claims, then erasure records, past the retry window; and any export
    claim a crashed replica left."""
    with engine.connect() as connection:
        exports = prune_export_claims(connection, now)
    return prune_processed_events(engine, now=now) + prune_erasures(engine, now=now) + exports
