"""Cache cleanup: drop expired entries from every cache and log the hit rates (every replica).

cachetools expires lazily, on access; a cache nobody reads would hold expired entries (and their
memory) until evicted. Sweeping every few minutes bounds that, and the log line gives operators
the caches' hit rates over time without opening /perf. No keys or values are logged.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class CacheRegistryLike(Protocol):
    """What the job needs of ``storage.caches.CacheRegistry``."""

    def expire_all(self) -> dict[str, int]: ...

    def stats(self) -> dict[str, dict[str, Any]]: ...


def expire_caches(caches: CacheRegistryLike) -> str:
    """Expire every cache now; log what went and each cache's hit rate. Returns the outcome."""
    removed = caches.expire_all()
    stats = caches.stats()
    total = sum(removed.values())
    rates = ", ".join(
        f"{name} {figures.get('hit_rate', 0.0):.0%} of {figures.get('hits', 0) + figures.get('misses', 0)}"
        for name, figures in stats.items()
    )
    per_cache = ", ".join(f"{name} {count}" for name, count in removed.items() if count)
    logger.info(
        "Cache cleanup: removed %d expired entries%s; hit rates: %s",
        total,
        f" ({per_cache})" if per_cache else "",
        rates or "no caches",
    )
    return "ok"
