"""Who may see /perf: the PERF_ADMIN_IDS list, or Slack's own workspace admins and owners.

Slack's answer (users.info) is cached in the "slack_api" cache for its TTL, so an admin
running /perf a few times costs one Slack call. A failed look-up is never cached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from slack_sdk.web.async_client import AsyncWebClient

from storage.caches import CountingTTLCache

ADMIN_FLAGS = ("is_admin", "is_owner", "is_primary_owner")


class AdminCheck:
    """Decides whether a user is allowed the admin-only commands."""

    def __init__(
        self,
        admin_ids: Iterable[str],
        cache: CountingTTLCache[tuple[str, str, str], bool],
        *,
        admin_ids_for: Callable[[str], Awaitable[frozenset[str]]] | None = None,
    ) -> None:
        self._admin_ids = frozenset(admin_ids)
        self._cache = cache
        # OAuth installs: each workspace's own list (``/coach admin``), PERF_ADMIN_IDS by default.
        self._admin_ids_for = admin_ids_for

    async def is_admin(self, client: AsyncWebClient, *, team_id: str, user_id: str) -> bool:
        """True for listed ids and Slack admins/owners; Slack errors propagate (nothing cached)."""
        listed = self._admin_ids if self._admin_ids_for is None else await self._admin_ids_for(team_id)
        if user_id in listed:
            return True
        key = ("users.info:admin", team_id, user_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        response = await client.users_info(user=user_id)
        user = response.get("user") or {}
        allowed = bool(not user.get("deleted") and any(user.get(flag) for flag in ADMIN_FLAGS))
        self._cache.set(key, allowed)
        return allowed
