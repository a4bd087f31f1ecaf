"""The HTTP server: Slack's request URL, health checks, performance figures, gzip.

``POST /slack/events`` takes events, slash commands and interactivity alike
and hands them to Bolt, whose signature verification stays on (401 for a bad
or stale signature). A body Bolt could not parse gets a 400 instead of a
traceback, but only once its signature checks out, so an unsigned probe learns
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.assembly.app import Runtime, build_runtime
from bot.assembly.config import Settings
from bot.feedback.service import FIGURES_MAX_AGE_SECONDS
from bot.operations.prometheus import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from bot.operations.prometheus import render as render_prometheus
from storage.files import LocalFileStore

logger = logging.getLogger(__name__)

GZIP_MINIMUM_BYTES = 500
GZIP_LEVEL = 6


def malformed_reason(body: bytes, content_type: str) -> str | None:
    """Why Bolt could not read this body, or None when it can.

    Mirrors Bolt's own parsing: JSON for events, a form (with an optional JSON
    ``payload``) for commands and interactivity.
    """
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type.startswith("application/json") or decoded.startswith("{"):
        try:
            parsed = json.loads(decoded)
        except ValueError:
            return "body is not valid JSON"
        return None if isinstance(parsed, dict) else "JSON body is not an object"
    payload = parse_qs(decoded).get("payload")
    if payload:
        try:
            parsed = json.loads(payload[0])
        except ValueError:
            return "payload is not valid JSON"
        return None if isinstance(parsed, dict) else "payload is not an object"
    return None


async def made_for_the_coach(runtime: Runtime, key: str, user: str | None) -> bool:
    """A local file link works only while it names the coach of the file's session."""
    attachments = getattr(runtime, "attachments", None)
    if not user or attachments is None:
        return False
    try:
        return await attachments.store.coach_of_stored_file(key) == user
    except Exception as error:  # the database is unavailable: refuse rather than guess
        logger.warning("Could not check a file link's coach: %s", type(error).__name__)
        return False


def create_http_app(
    settings: Settings,
    *,
    socket_mode: bool = False,
    runtime_factory: Callable[[Settings], Awaitable[Runtime]] = build_runtime,
) -> Starlette:
    verifier = SignatureVerifier(settings.slack_signing_secret)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = await runtime_factory(settings)
        app.state.runtime = runtime
        app.state.slack_handler = AsyncSlackRequestHandler(runtime.bolt)
        socket_handler = None
        if socket_mode:
            socket_handler = AsyncSocketModeHandler(runtime.bolt, settings.slack_app_token)
            await socket_handler.connect_async()
            logger.info("Connected to Slack over Socket Mode")
        try:
            yield
        finally:
            if socket_handler is not None:
                await socket_handler.close_async()
            await runtime.close()

    async def slack_events(request: Request) -> Response:
        received_at = time.perf_counter()
        body = await request.body()
        reason = malformed_reason(body, request.headers.get("content-type", ""))
        if reason is not None:
            if not verifier.is_valid_request(body, dict(request.headers)):
                return PlainTextResponse("invalid request", status_code=401)
            logger.info("Rejected a malformed Slack request: %s", reason)
            return PlainTextResponse(f"malformed request: {reason}", status_code=400)
        handler: AsyncSlackRequestHandler = request.app.state.slack_handler
        return await handler.handle(request, addition_context_properties={"received_at": received_at})

    async def slack_oauth(request: Request) -> Response:
        """/slack/install and /slack/oauth_redirect: Bolt's OAuth flow (404 in single-token mode)."""
        if not settings.oauth_installs:
            return PlainTextResponse("not found", status_code=404)
        handler: AsyncSlackRequestHandler = request.app.state.slack_handler
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """503 with the reasons (bot.operations.readiness) whenever the app cannot coach; 200 otherwise."""
        runtime: Runtime = request.app.state.runtime
        if runtime.readiness is None:  # a runtime assembled without it (some tests)
            return JSONResponse({"status": "ready"})
        ready, body = await runtime.readiness.check()
        return JSONResponse(body, status_code=200 if ready else 503)

    async def local_file(request: Request) -> Response:
        """A signed, expiring link to a locally stored attachment (no S3 configured)."""
        files = getattr(request.app.state.runtime, "files", None)
        if not isinstance(files, LocalFileStore):
            return PlainTextResponse("not found", status_code=404)
        key = request.path_params["key"]
        user = request.query_params.get("u")
        path = files.resolve_signed(
            key, request.query_params.get("expires"), request.query_params.get("sig"), user
        )
        if path is None or not await made_for_the_coach(request.app.state.runtime, key, user):
            return PlainTextResponse("this link is invalid or has expired", status_code=403)
        # identity: already-compressed files (pdf, docx, images) aren't worth gzip's CPU
        return FileResponse(
            path,
            filename=path.name,
            content_disposition_type="attachment",
            headers={"Content-Encoding": "identity"},
        )

    def authorized(request: Request) -> bool:
        """GET /performance and /metrics: open unless METRICS_TOKEN is set (see the README)."""
        if not settings.metrics_token:
            return True
        expected = f"Bearer {settings.metrics_token}".encode()
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    async def performance(request: Request) -> Response:
        if not authorized(request):
            return PlainTextResponse("unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        runtime: Runtime = request.app.state.runtime
        if runtime.perf is None:
            return PlainTextResponse("performance figures are off", status_code=503)
        if runtime.feedback is not None:  # a poll sees figures at most a minute old
            await runtime.feedback.refresh(max_age=FIGURES_MAX_AGE_SECONDS)
        data = await asyncio.to_thread(runtime.perf.collect)
        return JSONResponse(data)

    async def metrics(request: Request) -> Response:
        if not authorized(request):
            return PlainTextResponse("unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        runtime: Runtime = request.app.state.runtime
        if runtime.metrics is None:
            return PlainTextResponse("metrics are off", status_code=503)
        body = await asyncio.to_thread(render_prometheus, runtime.metrics.registry)
        return Response(body, media_type=PROMETHEUS_CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/slack/install", slack_oauth, methods=["GET"]),
            Route("/slack/oauth_redirect", slack_oauth, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/performance", performance, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/files/{key:path}", local_file, methods=["GET"]),
        ],
        middleware=[Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)],
        lifespan=lifespan,
    )
