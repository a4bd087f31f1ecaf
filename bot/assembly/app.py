"""App assembly: the Bolt app, its Slack client and the services behind the listeners.

Everything is built inside the running event loop (aiohttp sessions must be),
once per process, from one ``Settings``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.assembly.bolt_app import (  # noqa: F401  (re-exported: tests build these)
    answer_what_no_listener_handles,
    bolt_logger,
    build_bolt_app,
    build_slack_client,
)
from bot.assembly.config import Settings
from bot.attachments.reading import AttachmentReader
from bot.attachments.service import AttachmentService
from bot.checkins.coach_zones import CoachZones
from bot.checkins.service import HELP_LINE as CHECKINS_HELP
from bot.checkins.service import CheckinService
from bot.commands.about import help_intro
from bot.commands.coach import CoachCommand
from bot.commands.new_session import HELP_LINE as NEW_HELP
from bot.commands.new_session import new_session
from bot.conversation.agent_panel import AgentPanel
from bot.conversation.coaching import CoachingService
from bot.conversation.llm import CoachModel, StreamStats
from bot.conversation.message_edits import MessageEditService
from bot.conversation.recovery import OwedReplyRecovery
from bot.conversation.tokens import warm as warm_tokenizer
from bot.conversation.turns import TurnLeases
from bot.delivery.conversation import SlackDelivery
from bot.delivery.slack_budget import (
    SlackRateBudget,
)
from bot.delivery.workspace_clients import SingleWorkspace, WorkspaceClients, client_of
from bot.erase.service import HELP_LINE as DELETE_HELP
from bot.erase.service import EraseService
from bot.export.claims import ExportClaims
from bot.export.service import HELP_LINE as EXPORT_HELP
from bot.export.service import DataExport
from bot.feedback.service import FeedbackService
from bot.home.assembly import build_home
from bot.home.service import HomeService
from bot.installs.assembly import add_admin_command, build_installs, workspace_settings
from bot.installs.lifecycle import WorkspaceInstalls
from bot.memory.assembly import build_memory
from bot.memory.service import MemoryService
from bot.operations.admin_alerts import AdminAlerts
from bot.operations.admins import AdminCheck
from bot.operations.health import ConfigHealth
from bot.operations.metrics import Metrics
from bot.operations.perf import PerfService
from bot.operations.prometheus import register_collector
from bot.operations.readiness import Readiness
from jobs.app_jobs import start_app_scheduler
from jobs.scheduler import JobScheduler
from storage.attachment_text import AttachmentTextIndex
from storage.attachments import AttachmentStore
from storage.caches import CacheRegistry, CountingTTLCache
from storage.conversations import ConversationStore
from storage.engine import create_db_engine, warm_pool
from storage.feedback import FeedbackStore
from storage.files import FileStore, build_file_store
from storage.message_edits import MessageEditStore
from storage.models import utcnow
from storage.turn_leases import TurnLeaseStore

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The process's long-lived objects, closed together on shutdown."""

    settings: Settings
    engine: AsyncEngine
    store: ConversationStore
    model: CoachModel
    coaching: CoachingService
    slack_client: AsyncWebClient
    bolt: AsyncApp
    #: The only way work without a request (recovery, jobs, alerts) gets a workspace's client.
    workspace_clients: WorkspaceClients
    caches: CacheRegistry | None = None
    metrics: Metrics | None = None
    perf: PerfService | None = None
    files: FileStore | None = None
    attachments: AttachmentService | None = None
    scheduler: JobScheduler | None = None
    health: ConfigHealth | None = None
    readiness: Readiness | None = None
    alerts: AdminAlerts | None = None
    edits: MessageEditService | None = None
    recovery: OwedReplyRecovery | None = None
    checkins: CheckinService | None = None
    #: "Now" for the jobs and check-ins: real time, or a test's clock (set before a job runs).
    clock: Callable[[], datetime] = utcnow
    memory: MemoryService | None = None
    installs: WorkspaceInstalls | None = None
    home: HomeService | None = None
    feedback: FeedbackService | None = None
    erase: EraseService | None = None

    async def shut_down(self, grace: float | None = None) -> bool:
        """SIGTERM: no new turns, running ones finish within the grace, the rest are handed back."""
        if self.recovery is not None:
            await self.recovery.stop()
        seconds = self.settings.shutdown_grace_seconds if grace is None else grace
        return await self.coaching.shut_down(seconds)

    async def close(self, drain_seconds: float = 10.0) -> None:
        if self.scheduler is not None:  # first: its jobs use the services closed below
            await self.scheduler.aclose()
        if self.recovery is not None:
            await self.recovery.stop()
        if not await self.coaching.shut_down(drain_seconds):
            logger.warning("Shut down with coaching turns still running; they are handed back")
        await self.model.close()
        if self.edits is not None:  # before the store: it shares the store's SQLite writer
            await self.edits.close()
        if self.memory is not None:
            await self.memory.store.close()
        await self.store.close()
        if self.attachments is not None:  # before the Slack session: its feedback calls use it
            await self.attachments.close()
        if self.alerts is not None:
            await self.alerts.close()
        if self.slack_client.session is not None:
            await self.slack_client.session.close()
        if self.files is not None:
            await self.files.close()
        await self.engine.dispose()


def build_attachments(
    settings: Settings,
    engine: AsyncEngine,
    store: ConversationStore,
    files: FileStore,
    clients: WorkspaceClients,
    delivery: SlackDelivery,
    listing_cache: CountingTTLCache[Any, Any] | None = None,
) -> AttachmentService:
    """Attachment intake; downloads go through each turn's conversation (its client's pooled session)."""
    return AttachmentService(
        settings=settings,
        store=AttachmentStore(engine, sqlite_writer=store.sqlite_writer),
        files=files,
        conversations=store,
        clients=clients,
        delivery=delivery,
        listing_cache=listing_cache,
    )


def _model_calls_reported(metrics: Metrics, health: ConfigHealth) -> Callable[[StreamStats, bool], None]:
    """After each model call: its metrics, and a call that worked clears OpenAI's problems."""

    def report(stats: StreamStats, failed: bool) -> None:
        metrics.record_model_call(stats, failed)
        if not failed:
            health.resolve("openai")

    return report


def _home_emptied(home: HomeService, clients: WorkspaceClients) -> Callable[[str, str], Awaitable[bool]]:
    """After an erasure: the coach's Home shows that nothing is kept (forced: the erasure also
    dropped the entry that says they opened it)."""

    async def publish(team_id: str, user_id: str) -> bool:
        return await home.refresh(team_id, user_id, await client_of(clients, team_id), force=True)

    return publish


async def build_runtime(settings: Settings) -> Runtime:
    caches = CacheRegistry()
    metrics = Metrics(slow_request_ms=settings.slow_request_ms)
    health = ConfigHealth()
    engine = create_db_engine(settings.database_url, echo=settings.debug)
    metrics.instrument_engine(engine.sync_engine)  # before the store: its SQLite writer inherits it
    await warm_pool(engine)
    store = ConversationStore(engine, session_cache=caches.get("sessions"))
    model = CoachModel.from_settings(settings)
    await asyncio.to_thread(warm_tokenizer)  # the first turn doesn't load the vocabulary (0.1 s)
    memory, memory_commands = None, None
    router = CoachCommand(help_intro(settings))
    router.add("new", new_session, NEW_HELP)
    if settings.memory_enabled:
        memory, memory_commands = build_memory(settings, engine, store, model, cache=caches.get("memory"))
        memory_commands.register(router)
    files = build_file_store(settings.file_store(), on_transfer=metrics.on_transfer)
    turns = TurnLeases(TurnLeaseStore(store), lease_seconds=settings.turn_lease_seconds)
    feedback = FeedbackService(FeedbackStore(store))
    coaching = CoachingService(
        settings=settings,
        store=store,
        model=model,
        on_model_call=_model_calls_reported(metrics, health),
        on_crisis=lambda: metrics.crisis_replies.add(1),
        turns=turns,
        delivery=SlackDelivery(SlackRateBudget(None if settings.slack_rate_budget else {})),
        memory=memory,
        feedback=feedback,
    )
    coaching.config_health = health
    client = build_slack_client(settings, health, coaching.delivery.budget)
    oauth_settings, installs = build_installs(settings, engine, client)
    per_workspace = workspace_settings(settings, engine) if installs is not None else None
    admin_command = None
    if per_workspace is not None:
        admin_command = add_admin_command(router, per_workspace, caches.get("slack_api"))
    # OAuth installs: each workspace's client from the installation store; else the one client.
    workspace_clients: WorkspaceClients = installs if installs is not None else SingleWorkspace(client)
    alerts = AdminAlerts(workspace_clients, settings.perf_admin_ids)
    health.on_announce = alerts.announce
    attachments = build_attachments(
        settings, engine, store, files, workspace_clients, coaching.delivery, caches.get("file_listings")
    )
    coaching.attachments = attachments
    # The coach reads the files: intake indexes each stored one, turns search them.
    reader = AttachmentReader(AttachmentTextIndex(engine), files=files)
    coaching.reader = reader
    attachments.set_reader(reader)
    perf = PerfService(
        caches=caches,
        metrics=metrics,
        engine=engine,
        admins=AdminCheck(
            settings.perf_admin_ids,
            caches.get("slack_api"),
            admin_ids_for=per_workspace.perf_admins if per_workspace is not None else None,
        ),
        health=health,
        feedback=feedback.snapshot,
        before_report=feedback.refresh,
    )
    register_collector(metrics, perf.collect)
    edits = MessageEditService(MessageEditStore(engine, sqlite_writer=store.sqlite_writer))
    agent_panel = AgentPanel.on_database(engine, store.sqlite_writer)
    zones = CoachZones(workspace_clients, caches.get("slack_users"))
    checkins = CheckinService(
        store=store,
        clients=workspace_clients,
        zones=zones,
        checkin_days=settings.checkin_days,
        clock=lambda: runtime.clock(),
    )
    router.add("checkins", checkins.subcommand, CHECKINS_HELP)
    data_export = DataExport(
        engine,
        background=coaching.delivery.background,
        listing=attachments.listing,
        claims=ExportClaims(store.run_write, turns.replica),
    )
    router.add("export", data_export.subcommand, EXPORT_HELP)
    home = build_home(
        settings,
        store=store,
        memory=memory,
        files=files,
        zones=zones,
        caches=caches,
        workspace=per_workspace,
        router=router,
    )
    coaching.on_new_session = home.refresh  # a new session shows on an opened Home
    if memory is not None:
        memory.wrap_ups.on_ended = home.refresh_coach  # so does a session ended
    erase = EraseService(store, files, caches)  # real time: it is compared with Slack's own ts
    router.add("delete", erase.subcommand, DELETE_HELP)
    erase.on_erased.append(_home_emptied(home, workspace_clients))
    bolt = build_bolt_app(
        settings,
        client,
        coaching,
        metrics=metrics,
        perf=perf,
        edits=edits,
        agent_panel=agent_panel,
        coach_command=router,
        checkins=checkins,
        memory=memory,
        memory_commands=memory_commands,
        oauth_settings=oauth_settings,
        installs=installs,
        workspace_admin=admin_command,
        data_export=data_export,
        home=home,
        feedback=feedback,
        erase=erase,
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        store=store,
        model=model,
        coaching=coaching,
        slack_client=client,
        bolt=bolt,
        workspace_clients=workspace_clients,
        caches=caches,
        metrics=metrics,
        perf=perf,
        files=files,
        attachments=attachments,
        health=health,
        readiness=Readiness(settings, engine=engine, health=health, session=client.session),
        alerts=alerts,
        edits=edits,
        checkins=checkins,
        memory=memory,
        installs=installs,
        home=home,
        feedback=feedback,
        erase=erase,
    )
    runtime.recovery = OwedReplyRecovery(
        coaching, turns, workspace_clients, interval=settings.recovery_interval_seconds
    )
    runtime.recovery.start()  # its first sweep answers what a previous run of this replica owed
    perf.scheduler = lambda: runtime.scheduler  # /perf jobs: whatever scheduler runs now, if any
    if settings.scheduler_enabled:
        runtime.scheduler = start_app_scheduler(runtime)
    return runtime
