"""The page on uvicorn in a daemon thread, beside the emulator (which serves on its own loop)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette


class PageServer:
    """Serves a Starlette app on 127.0.0.1 until ``stop()``; ``url`` once started."""

    def __init__(
        self,
        app: Starlette,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        before_stop: Callable[[], None] | None = None,
    ) -> None:
        """``before_stop`` ends what would keep a connection open (the feed's SSE streams)."""
        self._before_stop = before_stop
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,  # an open page's SSE stream never ends by itself
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name="devkit-page", daemon=True)
        self._host = host

    @property
    def url(self) -> str:
        sockets = [s for server in self._server.servers for s in server.sockets]
        return f"http://{self._host}:{sockets[0].getsockname()[1]}/"

    def start(self, timeout: float = 10.0) -> PageServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the page server did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._before_stop is not None:
            self._before_stop()
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
