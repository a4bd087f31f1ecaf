"""The export's cross-replica guard: its claim in the database, written through the store's writer.

``DataExport`` keeps its own set for this process (no round trip for a double press on one
replica); this is what tells a press on another replica that an export is already on its way.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from storage.export_claims import claim_export, release_export
from storage.memory_records import Coach

RunWrite = Callable[[Callable[[Connection], Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ExportClaims:
    """Claims made as ``claimed_by`` (this replica) with the store's ``run_write``."""

    run_write: RunWrite
    claimed_by: str

    async def claim(self, coach: Coach, now: datetime) -> bool:
        return bool(
            await self.run_write(
                functools.partial(claim_export, coach=coach, claimed_by=self.claimed_by, now=now)
            )
        )

    async def release(self, coach: Coach) -> None:
        await self.run_write(functools.partial(release_export, coach=coach, claimed_by=self.claimed_by))
