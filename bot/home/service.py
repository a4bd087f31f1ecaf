"""The App Home: read a coach's Home for them, publish it with one views.publish, refresh it.

Everything shown is read for the (team, user) Slack names as the viewer, from our tables; the
Slack look-ups (their timezone, whether they are an admin, the workspace URL) are cached, so a
Home opened again costs the database reads and one views.publish. ``refresh`` re-publishes
after a change only for coaches who opened their Home in the last day (``opened``, the
"home_opened" cache of this process): a coach who never opens it costs nothing. Inside
``coalesced`` (a ``/coach`` subcommand), the coach's refreshes are one publish at its end: a
``/coach wrap`` ends a session, whose hook refreshes too.

Ordering: per process, a coach's refreshes are single-flight with a trailing run, so an older
render is never published after a newer one (N asks during a publish cost at most one more
publish, from a snapshot read after the last ask). Across replicas, each publish sends the
``hash`` Slack returned for the coach's Home last time (kept as the "home_opened" entry's value,
or taken from ``app_home_opened``'s ``view``); ``hash_conflict`` means another replica published
since, so the Home is read afresh and published once more without ``hash``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import tzinfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.attachments.listing import fresh_links
from bot.checkins.coach_zones import CoachZones
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.home.admin_view import AdminView
from bot.home.links import TeamUrls
from bot.home.settings_blocks import CoachSettings
from bot.home.view import LIMITS, HomeSnapshot, home_view, unavailable_view
from bot.memory.service import MemoryService
from storage.caches import CountingTTLCache
from storage.checkins import checkins_enabled, set_checkins_enabled
from storage.conversations import ConversationStore
from storage.files import FileStore
from storage.home import HomeRecords, home_records
from storage.memory_records import Coach

logger = logging.getLogger(__name__)


@dataclass
class HomeParts:
    """What the Home service reads from: the stores, the file store, the cached Slack look-ups."""

    store: ConversationStore
    memory: MemoryService | None
    files: FileStore | None
    zones: CoachZones
    admin: AdminView
    team_urls: TeamUrls
    #: Who opened their Home (a day), each with the ``hash`` of the Home Slack last showed them
    #: as far as this process knows ("" when not known).
    opened: CountingTTLCache[tuple[str, str], str]


@dataclass
class _Coalesced:
    """The coach whose refreshes wait for the end of a ``coalesced`` block, while it is open."""

    key: tuple[str, str]
    open: bool = True
    forced: bool = False


@dataclass
class _Flight:
    """A coach's refresh running in this process, and whether anything asked again meanwhile."""

    client: AsyncWebClient
    dirty: bool = False
    forced: bool = False


# Per task: the block's own awaits see it; a task it started that outlives it finds it closed.
_coalescing: ContextVar[_Coalesced | None] = ContextVar("home_coalescing", default=None)


class HomeService:
    """One per process: the listeners publish and refresh Homes through it."""

    def __init__(self, parts: HomeParts) -> None:
        self._parts = parts
        self._store = parts.store
        # Only the coaches whose refresh is running now: an entry goes when its refresh ends.
        self._flights: dict[tuple[str, str], _Flight] = {}

    # ----------------------------------------------------------------- publishing

    async def opened(
        self,
        team_id: str,
        user_id: str,
        client: AsyncWebClient,
        *,
        team_url: str | None,
        view_hash: str | None = None,
    ) -> bool:
        """``app_home_opened`` on the Home tab: remember it, and publish the coach's Home.

        ``view_hash`` is the event's ``view.hash`` (Slack sends the view once one was published):
        the Home as Slack shows it now, whichever replica published it.
        """
        await self._parts.team_urls.url_for(team_id, client, known=team_url)
        if team_id and user_id and view_hash:
            self._parts.opened.set((team_id, user_id), view_hash)
        return await self.refresh(team_id, user_id, client, force=True)

    async def refresh(
        self, team_id: str, user_id: str, client: AsyncWebClient, *, force: bool = False
    ) -> bool:
        """Re-publish the coach's Home after a change; only if they opened it (or ``force``).

        Never raises. A Home that could not be read (the database away) is published as a short
        note saying so; one Slack refused is logged and stays as it was. While the coach's
        refresh runs, another only asks it to publish once more when done (True at once).
        """
        key = (team_id, user_id)
        if not team_id or not user_id:
            return False
        batch = _coalescing.get()
        if batch is not None and batch.open and batch.key == key:
            batch.forced = batch.forced or force
            return True  # published when the block ends
        if not force and self._parts.opened.get(key) is None:
            return False
        flight = self._flights.get(key)
        if flight is not None:
            flight.dirty, flight.forced, flight.client = True, flight.forced or force, client
            return True  # the running refresh publishes again, from a snapshot read after this
        flight = self._flights[key] = _Flight(client)
        try:
            built = await self._publish(team_id, user_id, client)
            while flight.dirty:
                forced, flight.dirty, flight.forced = flight.forced, False, False
                if not forced and self._parts.opened.get(key) is None:
                    break  # forgotten meanwhile (an erasure): nothing to keep current
                built = await self._publish(team_id, user_id, flight.client)
        finally:
            del self._flights[key]
        return built

    async def _publish(self, team_id: str, user_id: str, client: AsyncWebClient) -> bool:
        """Read, render and publish once, with the Home's last known ``hash``; one retry on
        ``hash_conflict`` (another replica published since), read afresh and without ``hash``."""
        key = (team_id, user_id)
        known = self._parts.opened.get(key)
        if known is None:
            self._parts.opened.set(key, "")  # opened (or forced): later changes refresh it
        view, built = await self._render(team_id, user_id, client)
        try:
            try:
                answer = await client.views_publish(user_id=user_id, view=view, hash=known or None)
            except SlackApiError as error:
                if not known or error.response.get("error") != "hash_conflict":
                    raise
                logger.info("A Home was published elsewhere since; publishing it afresh (hash_conflict)")
                self._remember(key, "")
                view, built = await self._render(team_id, user_id, client)
                answer = await client.views_publish(user_id=user_id, view=view)
        except SLACK_ERRORS as error:
            logger.warning("Could not publish a Home (error=%s)", slack_error_name(error))
            return False
        published = answer.get("view") if answer is not None else None
        fresh = published.get("hash") if isinstance(published, dict) else None
        if isinstance(fresh, str) and fresh:
            self._remember(key, fresh)
        return built

    def _remember(self, key: tuple[str, str], view_hash: str) -> None:
        """Keep the Home's hash, unless its entry was dropped meanwhile (an erasure forgets them)."""
        if self._parts.opened.get(key) is not None:
            self._parts.opened.set(key, view_hash)

    async def _render(
        self, team_id: str, user_id: str, client: AsyncWebClient
    ) -> tuple[dict[str, object], bool]:
        """The Home's view, and whether it shows the coach's data (not the "couldn't load" note)."""
        try:
            return home_view(await self.snapshot(team_id, user_id, client)), True
        except Exception:
            logger.exception("Could not build a Home")
            return unavailable_view(), False

    @contextlib.asynccontextmanager
    async def coalesced(self, team_id: str, user_id: str, client: AsyncWebClient) -> AsyncIterator[None]:
        """Refresh the coach's Home once, after the block, however many of its changes ask to."""
        batch = _Coalesced((team_id, user_id))
        token = _coalescing.set(batch)
        try:
            yield
        finally:
            batch.open = False
            _coalescing.reset(token)
            await self.refresh(team_id, user_id, client, force=batch.forced)

    async def refresh_coach(self, coach: Coach, client: AsyncWebClient) -> None:
        """``refresh`` for the hooks that hand a Coach (a wrap-up)."""
        await self.refresh(coach.team_id, coach.user_id, client)

    async def snapshot(self, team_id: str, user_id: str, client: AsyncWebClient) -> HomeSnapshot:
        """The Home's contents: one database hop, the Slack look-ups alongside, then fresh links."""
        records, zone, admin, team_url = await asyncio.gather(
            self._records(team_id, user_id),
            self._zone(team_id, user_id),
            self._parts.admin.for_viewer(client, team_id=team_id, user_id=user_id),
            self._parts.team_urls.url_for(team_id, client),
        )
        links = {}
        if self._parts.files is not None and records.files:
            links = await fresh_links(self._parts.files, records.files, for_user=user_id)
        return HomeSnapshot(
            team_id=team_id,
            user_id=user_id,
            records=records,
            settings=self._settings_of(records.checkins_on, records.memory.enabled, zone),
            links=links,
            team_url=team_url,
            admin=admin,
        )

    async def _records(self, team_id: str, user_id: str) -> HomeRecords:
        async with self._store.reading() as connection:
            return await connection.run_sync(home_records, team_id, user_id, LIMITS)

    async def _zone(self, team_id: str, user_id: str) -> tzinfo | None:
        try:
            return await self._parts.zones.zone(team_id, user_id)
        except SLACK_ERRORS as error:
            logger.warning("users.info failed for a Home's working hours (error=%s)", slack_error_name(error))
            return None

    def _settings_of(self, checkins_on: bool, memory_on: bool, zone: tzinfo | None) -> CoachSettings:
        return CoachSettings(
            checkins_on=checkins_on,
            memory_on=memory_on if self._parts.memory is not None else None,
            zone_name=str(zone) if zone is not None else None,
        )

    # ----------------------------------------------------------------- settings

    async def settings(self, team_id: str, user_id: str) -> CoachSettings:
        """The coach's settings alone (``/coach settings``, a toggle's answer)."""
        async with self._store.reading() as connection:
            checkins_on = await connection.run_sync(checkins_enabled, team_id, user_id)
        memory_on = True
        if self._parts.memory is not None:
            memory_on = (await self._parts.memory.store.load(Coach(team_id, user_id), limit=1)).enabled
        return self._settings_of(checkins_on, memory_on, await self._zone(team_id, user_id))

    async def set_checkins(self, coach: Coach, on: bool) -> None:
        await self._store.run_write(
            functools.partial(set_checkins_enabled, team_id=coach.team_id, user_id=coach.user_id, enabled=on)
        )

    async def set_memory(self, coach: Coach, on: bool) -> bool:
        """False when the deployment runs without memory (nothing to switch)."""
        memory = self._parts.memory
        if memory is None:
            return False
        await memory.store.set_enabled(coach, on)
        memory.context.changed(coach)
        return True
