"""App assembly: the Bolt app, its Slack client and the services behind the listeners.

Everything is built inside the running event loop (aiohttp sessions must be),
once per process, from one ``Settings``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

import handlers
from bot.assembly.config import Settings
from bot.attachments.reading import AttachmentReader
from bot.attachments.service import AttachmentService
from bot.checkins.coach_zones import CoachZones
from bot.checkins.service import HELP_LINE as CHECKINS_HELP
from bot.checkins.service import CheckinService
from bot.commands.coach import CoachCommand
from bot.conversation.agent_panel import AgentPanel
from bot.conversation.coaching import CoachingService
from bot.conversation.llm import CoachModel, StreamStats
from bot.conversation.message_edits import MessageEditService
from bot.conversation.recovery import OwedReplyRecovery
from bot.conversation.turns import TurnLeases
from bot.delivery.slack_budget import (
    APPEND_STREAM,
    START_STREAM,
    BudgetedRateLimitRetryHandler,
    SlackRateBudget,
)
from bot.memory.assembly import build_memory
from bot.memory.commands import MemoryCommands
from bot.memory.service import MemoryService
from bot.operations.admin_alerts import AdminAlerts
from bot.operations.admins import AdminCheck
from bot.operations.config_errors import SlackConfigWatch
from bot.operations.health import ConfigHealth
from bot.operations.logs import safe_error
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
from storage.files import FileStore, build_file_store
from storage.message_edits import MessageEditStore
from storage.models import utcnow
from storage.turn_leases import TurnLeaseStore

logger = logging.getLogger(__name__)

SLACK_TIMEOUT_SECONDS = 30
SLACK_CONNECTIONS = 100
#: Slack calls a 429 is not waited out for, as there is a better answer: a reply whose stream
#: cannot start is posted whole; an append's text rides on the stream's next call; and an
#: "is thinking…" shown only after Retry-After could land after the reply and outstay it.
NOT_WAITED_FOR = frozenset({START_STREAM, APPEND_STREAM, "assistant.threads.setStatus"})


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


def build_slack_client(
    settings: Settings, health: ConfigHealth | None = None, budget: SlackRateBudget | None = None
) -> AsyncWebClient:
    """One pooled, keep-alive HTTP session for every Slack call, with slack_sdk's retry handlers.

    With ``health``, every answer that says the token or a scope is wrong is recorded there. With a
    ``budget``, slack_sdk's rate-limit handler also tells it of every 429, and the calls in
    ``NOT_WAITED_FOR`` are not retried after a 429 (the reply writer goes on without them).
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=SLACK_CONNECTIONS, ttl_dns_cache=300, keepalive_timeout=60),
    )
    watch = [SlackConfigWatch(health)] if health is not None else []
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        session=session,
        retry_handlers=[
            *watch,  # first: it sees every response, and never retries
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            (
                AsyncRateLimitErrorRetryHandler(max_retry_count=3)
                if budget is None
                else BudgetedRateLimitRetryHandler(budget, max_retry_count=3, fall_back=NOT_WAITED_FOR)
            ),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def bolt_logger() -> logging.Logger:
    """The logger Bolt is given: WARNING, so none of its per-class loggers logs at INFO.

    Bolt copies this logger's level to the loggers it makes for each part (without a logger they
    copy the root's), and some of those log a whole request body at INFO: a rejected signature's,
    for one. Warnings and errors still show, written safely by ``bot.operations.logs``.
    """
    logger = logging.getLogger("slack_bolt")
    logger.setLevel(logging.WARNING)
    return logger


async def answer_what_no_listener_handles(error: Exception) -> BoltResponse | None:
    """Bolt's error handler: an event no listener takes is answered 200, a failure logged safely.

    Slack counts any other answer to a correctly signed event as a failed delivery: it retries,
    and disables a subscription that keeps failing. An event type or message subtype coachbot
    does not act on is simply not for it. Bolt raises ``BoltUnhandledRequestError`` for those
    (``raise_error_for_unhandled_request``) instead of answering 404 and logging the body.
    """
    if isinstance(error, BoltUnhandledRequestError):
        return BoltResponse(status=200, body="")
    logger.error("A Slack listener failed: %s", safe_error(error), exc_info=error)
    return None


def build_bolt_app(
    settings: Settings,
    client: AsyncWebClient,
    coaching: CoachingService,
    *,
    metrics: Metrics | None = None,
    perf: PerfService | None = None,
    edits: MessageEditService | None = None,
    agent_panel: AgentPanel | None = None,
    coach_command: CoachCommand | None = None,
    checkins: CheckinService | None = None,
    memory: MemoryService | None = None,
    memory_commands: MemoryCommands | None = None,
) -> AsyncApp:
    """Bolt with its request verification on, our services in every listener's context."""
    panel = agent_panel or AgentPanel()
    router = coach_command or CoachCommand()
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        process_before_response=False,
        logger=bolt_logger(),
        raise_error_for_unhandled_request=True,
    )
    app.error(answer_what_no_listener_handles)

    async def attach_services(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["coaching"] = coaching
        context["perf"] = perf
        context["edits"] = edits
        context["agent_panel"] = panel
        context["coach_command"] = router
        context["checkins"] = checkins
        context["memory"] = memory
        context["memory_commands"] = memory_commands
        if metrics is not None:
            metrics.bind()  # listeners wrapped in bot.operations.metrics.timed report here
        if context.get("received_at") is None:
            context["received_at"] = time.perf_counter()
        await next()

    app.use(attach_services)
    handlers.register(app)
    return app


def build_attachments(
    settings: Settings,
    engine: AsyncEngine,
    store: ConversationStore,
    files: FileStore,
    client: AsyncWebClient,
    listing_cache: CountingTTLCache[Any, Any] | None = None,
) -> AttachmentService:
    """Attachment intake; downloads share the Slack client's pooled, keep-alive HTTP session."""
    assert client.session is not None, "build_slack_client always gives the client a session"
    return AttachmentService(
        settings=settings,
        store=AttachmentStore(engine, sqlite_writer=store.sqlite_writer),
        files=files,
        conversations=store,
        http=client.session,
        client=client,
        listing_cache=listing_cache,
    )


def _model_calls_reported(metrics: Metrics, health: ConfigHealth) -> Callable[[StreamStats, bool], None]:
    """After each model call: its metrics, and a call that worked clears OpenAI's problems."""

    def report(stats: StreamStats, failed: bool) -> None:
        metrics.record_model_call(stats, failed)
        if not failed:
            health.resolve("openai")

    return report


async def build_runtime(settings: Settings) -> Runtime:
    caches = CacheRegistry()
    metrics = Metrics(slow_request_ms=settings.slow_request_ms)
    health = ConfigHealth()
    engine = create_db_engine(settings.database_url, echo=settings.debug)
    metrics.instrument_engine(engine.sync_engine)  # before the store: its SQLite writer inherits it
    await warm_pool(engine)
    store = ConversationStore(engine, session_cache=caches.get("sessions"))
    model = CoachModel.from_settings(settings)
    memory, memory_commands = None, None
    router = CoachCommand()
    if settings.memory_enabled:
        memory, memory_commands = build_memory(settings, engine, store, model, cache=caches.get("memory"))
        memory_commands.register(router)
    files = build_file_store(settings, on_transfer=metrics.on_transfer)
    turns = TurnLeases(TurnLeaseStore(store), lease_seconds=settings.turn_lease_seconds)
    coaching = CoachingService(
        settings=settings,
        store=store,
        model=model,
        on_model_call=_model_calls_reported(metrics, health),
        turns=turns,
        slack_budget=SlackRateBudget(None if settings.slack_rate_budget else {}),
        memory=memory,
    )
    coaching.config_health = health
    client = build_slack_client(settings, health, coaching.slack_budget)
    alerts = AdminAlerts(client, settings.perf_admin_ids)
    health.on_announce = alerts.announce
    attachments = build_attachments(settings, engine, store, files, client, caches.get("file_listings"))
    coaching.attachments = attachments
    # The coach reads the files: intake indexes each stored one, turns search them.
    reader = AttachmentReader(AttachmentTextIndex(engine), files=files)
    coaching.reader = reader
    attachments.set_reader(reader)
    perf = PerfService(
        caches=caches,
        metrics=metrics,
        engine=engine,
        admins=AdminCheck(settings.perf_admin_ids, caches.get("slack_api")),
        health=health,
    )
    register_collector(metrics, perf.collect)
    edits = MessageEditService(MessageEditStore(engine, sqlite_writer=store.sqlite_writer))
    agent_panel = AgentPanel.on_database(engine, store.sqlite_writer)
    checkins = CheckinService(
        store=store,
        client=client,
        zones=CoachZones(client, caches.get("slack_users")),
        checkin_days=settings.checkin_days,
        clock=lambda: runtime.clock(),
    )
    router.add("checkins", checkins.subcommand, CHECKINS_HELP)
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
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        store=store,
        model=model,
        coaching=coaching,
        slack_client=client,
        bolt=bolt,
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
    )
    runtime.recovery = OwedReplyRecovery(coaching, turns, client, interval=settings.recovery_interval_seconds)
    runtime.recovery.start()  # its first sweep answers what a previous run of this replica owed
    perf.scheduler = lambda: runtime.scheduler  # /perf jobs: whatever scheduler runs now, if any
    if settings.scheduler_enabled:
        runtime.scheduler = start_app_scheduler(runtime)
    return runtime
