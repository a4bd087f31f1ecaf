"""A coach's Slack timezone, from users.info, cached per (team, user) in the "slack_users" cache.

A check-in job asks for every coach with a check-in due on each run (every few minutes), so
the cache keeps that to one users.info call per coach an hour. A failed look-up is never cached
(and propagates: the caller leaves that coach's check-in for the next run).
"""

from __future__ import annotations

from datetime import tzinfo

from bot.checkins.working_hours import zone_of
from bot.delivery.workspace_clients import WorkspaceClients, client_of
from storage.caches import CountingTTLCache


class CoachZones:
    """``zone(team_id, user_id)``: the coach's tzinfo, one users.info call per TTL."""

    def __init__(self, clients: WorkspaceClients, cache: CountingTTLCache[tuple[str, str], tzinfo]) -> None:
        self._clients = clients
        self._cache = cache

    async def zone(self, team_id: str, user_id: str) -> tzinfo:
        key = (team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        client = await client_of(self._clients, team_id)
        response = await client.users_info(user=user_id)
        found = zone_of(response.get("user") or {})
        self._cache.set(key, found)
        return found
