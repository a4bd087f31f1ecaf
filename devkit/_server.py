"""Run an aiohttp app on its own event loop in a daemon thread.

The fakes must answer while a synchronous test thread blocks on them, and while
an app under test owns the main event loop, so each server gets a private loop.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable

from aiohttp import web

# Generous accept backlog: the benchmark opens hundreds of connections at once.
_BACKLOG = 4096
# In-flight handlers (e.g. a stalled response) get this long before being cancelled on stop().
_SHUTDOWN_GRACE = 0.5


class BackgroundServer:
    """Serves ``app_factory()`` on 127.0.0.1 from a background thread until ``stop()``."""

    def __init__(self, app_factory: Callable[[], web.Application], *, host: str = "127.0.0.1", port: int = 0):
        self._app_factory = app_factory
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server is not running; call start() first")
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def origin(self) -> str:
        """``http://host:port`` for clients; a wildcard bind is dialled through loopback."""
        host = "127.0.0.1" if self._host in ("", "0.0.0.0", "::") else self._host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._port is not None

    def start(self, timeout: float = 10.0) -> int:
        """Start serving; returns the bound port once the socket is listening."""
        if self._thread is not None:
            return self.port
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name=f"devkit-{self._host}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("devkit server did not start in time")
        if self._startup_error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError("devkit server failed to start") from self._startup_error
        return self.port

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
            try:
                future.result(timeout)
            except TimeoutError:
                future.cancel()
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._port = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start() in the calling thread
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        runner = web.AppRunner(
            self._app_factory(), handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE
        )
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self._host, self._requested_port, backlog=_BACKLOG, reuse_address=True)
        await site.start()
        self._port = _bound_port(runner)

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks still running at stop (e.g. a stalled handler) so closing the loop stays quiet."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError(f"could not determine the bound port from {runner.addresses!r}")


def serve_until_signalled(start: Callable[[], str], stop: Callable[[], None]) -> None:
    """Entry point for ``python -m devkit.X``: start, print ``LISTENING <url>``, wait for SIGTERM/SIGINT."""
    done = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    base_url = start()
    sys.stdout.write(f"LISTENING {base_url}\n")
    sys.stdout.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        stop()
