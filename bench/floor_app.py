"""The floor: the least a Bolt app on Starlette/uvicorn can do per message, as its own process.

Same stack and settings as coachbot's HTTP side (AsyncApp with signature verification, the
Starlette adapter, uvicorn without access log, one pooled keep-alive Slack session), and one
``message`` listener that replies once with chat.postMessage in the thread. coachbot's numbers
divided by these are what coachbot itself adds.

Run by the bench as ``python -m bench.floor_app`` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_API_URL, HOST and PORT in the environment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.processes import FLOOR_REPLIED

REPLY = "Noted."


def build_bolt(token: str, signing_secret: str, api_url: str) -> AsyncApp:
    """Must run inside the event loop: the aiohttp session binds to it."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=60))
    client = AsyncWebClient(token=token, base_url=api_url, session=session)
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)

    @app.message()
    async def reply(ack: AsyncAck, event: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(
            channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"], text=REPLY
        )
        print(FLOOR_REPLIED, flush=True)  # the harness waits for this line instead of polling

    return app


def build_http_app(token: str, signing_secret: str, api_url: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bolt = build_bolt(token, signing_secret, api_url)
        app.state.handler = AsyncSlackRequestHandler(bolt)
        try:
            yield
        finally:
            if bolt.client.session is not None:
                await bolt.client.session.close()

    async def events(request: Request) -> Response:
        handler: AsyncSlackRequestHandler = request.app.state.handler
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    app = build_http_app(
        os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_API_URL"]
    )
    uvicorn.run(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ["PORT"]),
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
