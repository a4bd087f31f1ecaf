"""Run the HTTP app on uvicorn: in the foreground, or in a background thread for tests and the demo."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette

from bot.assembly.app import Runtime
from bot.assembly.config import Settings
from bot.assembly.server import create_http_app
from storage.migrate import upgrade_database

T = TypeVar("T")

logger = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    """uvicorn, with SIGTERM (or a first Ctrl-C) draining the coaching turns before it stops.

    uvicorn would close the listening socket at once and give connections
    ``timeout_graceful_shutdown`` seconds; a turn outlives its request (it is acked first), so
    that would cut replies off. Here the signal starts ``drain`` while the server still takes
    events (they are acked and stored as owed), and uvicorn's own shutdown begins once ``drain``
    is over. A second signal falls through to uvicorn: stop now.
    """

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[object]] | None = None) -> None:
        super().__init__(config)
        self._drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None or self._loop is None or not self.started or self._draining is not None:
            super().handle_exit(sig, frame)
            return
        logger.info("Received %s: finishing the replies in flight before exiting", signal.Signals(sig).name)
        self._loop.call_soon_threadsafe(self._start_draining)

    def request_graceful_exit(self) -> None:
        """What SIGTERM does, from the server's own event loop (tests, the demo)."""
        self._start_draining()

    def _start_draining(self) -> None:
        if self._draining is None:
            self._draining = asyncio.get_running_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            if self._drain is not None:
                await self._drain()
        except Exception:
            logger.exception("Draining the coaching turns failed")
        finally:
            self.should_exit = True


def _config(settings: Settings, app: Starlette) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn logs through coachbot's handler: one format, secrets redacted
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
    )


def _install_executor(settings: Settings) -> None:
    """Blocking helpers (DNS lookups, file work) share a pool sized by LISTENER_THREADS."""
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=settings.listener_threads, thread_name_prefix="coachbot")
    )


async def _serve(server: uvicorn.Server, settings: Settings) -> None:
    _install_executor(settings)
    await server.serve()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when it is installed: a faster event loop for every request and stream."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_in_event_loop(main: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main)


def _drain_runtime(app: Starlette) -> Callable[[], Awaitable[object]]:
    async def drain() -> object:
        runtime: Runtime = app.state.runtime
        return await runtime.shut_down()

    return drain


def serve_forever(settings: Settings, *, socket_mode: bool = False, migrate: bool = True) -> None:
    if migrate:
        upgrade_database(settings.database_url)
    app = create_http_app(settings, socket_mode=socket_mode)
    server = GracefulServer(_config(settings, app), drain=_drain_runtime(app))
    run_in_event_loop(_serve(server, settings))


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket already bound to a free port: nobody else can take the port before uvicorn listens
    (a child process, which cannot be handed one, gets ``devkit.ports.free_port``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


class BackgroundServer:
    """The real app on a real port, in a thread: what tests and the demo talk to."""

    def __init__(self, settings: Settings, *, socket_mode: bool = False) -> None:
        self._socket = bound_socket()
        self.port: int = self._socket.getsockname()[1]
        self.settings = settings.with_overrides(host="127.0.0.1", port=self.port)
        self.http_app = create_http_app(self.settings, socket_mode=socket_mode)
        self._server = GracefulServer(
            _config(self.settings, self.http_app), drain=_drain_runtime(self.http_app)
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, name="coachbot-http", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    @property
    def runtime(self) -> Runtime:
        """The running app's services (timings, store), for tests and the demo to inspect."""
        return self.http_app.state.runtime

    def _run(self) -> None:
        run_in_event_loop(self._serve_here())

    async def _serve_here(self) -> None:
        self._loop = asyncio.get_running_loop()
        _install_executor(self.settings)
        await self._server.serve(sockets=[self._socket])

    def run_coroutine(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the app's event loop (its services live there) and wait for it."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("coachbot HTTP server is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("coachbot HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 20.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def stop_gracefully(self, timeout: float = 60.0) -> None:
        """Stop as SIGTERM does: replies in flight finish (up to the grace), then the server exits."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._server.request_graceful_exit)
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
