"""The Bolt app and its Slack client: request verification, retries, and our services in context.

Split from bot/assembly/app.py, which builds the services; this module is what Bolt sees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.assembly.config import Settings
from bot.checkins.service import CheckinService
from bot.commands.coach import CoachCommand
from bot.conversation.agent_panel import AgentPanel
from bot.conversation.coaching import CoachingService
from bot.conversation.message_edits import MessageEditService
from bot.delivery.slack_budget import (
    APPEND_STREAM,
    START_STREAM,
    BudgetedRateLimitRetryHandler,
    SlackRateBudget,
)
from bot.erase.service import EraseService
from bot.export.service import DataExport
from bot.feedback.service import FeedbackService
from bot.home.service import HomeService
from bot.installs.admin_command import AdminCommand
from bot.installs.lifecycle import WorkspaceInstalls
from bot.memory.commands import MemoryCommands
from bot.memory.service import MemoryService
from bot.operations.config_errors import SlackConfigWatch
from bot.operations.health import ConfigHealth
from bot.operations.logs import safe_error
from bot.operations.metrics import Metrics
from bot.operations.perf import PerfService

logger = logging.getLogger(__name__)

SLACK_TIMEOUT_SECONDS = 30
SLACK_CONNECTIONS = 100
#: Slack calls a 429 is not waited out for, as there is a better answer: a reply whose stream
#: cannot start is posted whole; an append's text rides on the stream's next call; and an
#: "is thinking…" shown only after Retry-After could land after the reply and outstay it.
NOT_WAITED_FOR = frozenset({START_STREAM, APPEND_STREAM, "assistant.threads.setStatus"})


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
        token=settings.slack_bot_token or None,  # OAuth installs: each request's own, from Bolt
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
    oauth_settings: AsyncOAuthSettings | None = None,
    installs: WorkspaceInstalls | None = None,
    workspace_admin: AdminCommand | None = None,
    data_export: DataExport | None = None,
    home: HomeService | None = None,
    feedback: FeedbackService | None = None,
    erase: EraseService | None = None,
) -> AsyncApp:
    """Bolt with its request verification on, our services in every listener's context.

    With ``oauth_settings`` (SLACK_CLIENT_ID set) each request is authorized from the
    installation store and its listeners get that workspace's client; else SLACK_BOT_TOKEN's.
    """
    panel = agent_panel or AgentPanel()
    router = coach_command or CoachCommand()
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        process_before_response=False,
        logger=bolt_logger(),
        raise_error_for_unhandled_request=True,
        oauth_settings=oauth_settings,
    )
    app.error(answer_what_no_listener_handles)

    async def attach_services(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["coaching"] = coaching
        context["delivery"] = coaching.delivery  # builds each turn's SlackConversation
        context["perf"] = perf
        context["edits"] = edits
        context["agent_panel"] = panel
        context["coach_command"] = router
        context["checkins"] = checkins
        context["memory"] = memory
        context["memory_commands"] = memory_commands
        context["installs"] = installs
        context["workspace_admin"] = workspace_admin
        context["data_export"] = data_export
        context["home"] = home
        context["feedback"] = feedback
        context["erase"] = erase
        if metrics is not None:
            metrics.bind()  # listeners wrapped in bot.operations.metrics.timed report here
        if context.get("received_at") is None:
            context["received_at"] = time.perf_counter()
        await next()

    app.use(attach_services)
    handlers.register(app)
    return app
