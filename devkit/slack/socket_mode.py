"""Socket Mode: ``apps.connections.open`` hands out a ``ws://`` URL served here, and
``send_socket_event`` pushes an ``events_api`` envelope down that WebSocket and waits for the ack."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from devkit.slack.sender import EventSenderMixin


@dataclass
class _SocketClient:
    """One open Socket Mode WebSocket, with the loop its sends must run on."""

    socket_id: str
    ws: web.WebSocketResponse
    loop: asyncio.AbstractEventLoop


class SocketModeMixin(EventSenderMixin):
    """The WebSocket side of Socket Mode, as the app's SocketModeClient sees it."""

    def _setup_socket_mode(self) -> None:
        self._socket_ids = itertools.count(1)
        self._socket_clients: dict[str, _SocketClient] = {}
        self._socket_acks: list[dict[str, Any]] = []
        self._socket_changed = threading.Condition(self._lock)

    def _new_socket_url(self) -> str:
        socket_id = f"{next(self._socket_ids)}-{secrets.token_hex(4)}"
        return f"ws://{urlsplit(self.origin).netloc}/socket/{socket_id}"

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers the client's pings itself
        await ws.prepare(request)
        socket_id = request.match_info["socket_id"]
        client = _SocketClient(socket_id, ws, asyncio.get_running_loop())
        with self._socket_changed:
            self._socket_clients[socket_id] = client
            count = len(self._socket_clients)
            self._socket_changed.notify_all()
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": count,
                    "debug_info": {
                        "host": "devkit-slack-emulator",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("envelope_id"):
                    with self._socket_changed:
                        self._socket_acks.append(data)
                        self._socket_changed.notify_all()
        finally:
            with self._socket_changed:
                self._socket_clients.pop(socket_id, None)
                self._socket_changed.notify_all()
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        with self._lock:
            clients = list(self._socket_clients.values())
        for client in clients:
            await client.ws.close(code=1001, message=b"server shutdown")

    @property
    def socket_clients(self) -> list[str]:
        """Ids of the Socket Mode connections currently open."""
        with self._lock:
            return list(self._socket_clients)

    @property
    def socket_acks(self) -> list[dict[str, Any]]:
        """Every ``{"envelope_id": ..., "payload"?: ...}`` ack received over Socket Mode, in order."""
        with self._lock:
            return list(self._socket_acks)

    def wait_for_socket_client(self, timeout: float = 10.0) -> str:
        """Block until an app has connected over Socket Mode; returns the newest connection's id."""
        with self._socket_changed:
            if not self._socket_changed.wait_for(lambda: bool(self._socket_clients), timeout):
                raise AssertionError(f"no Socket Mode client connected within {timeout}s")
            return list(self._socket_clients)[-1]

    def send_socket_event(
        self, event: dict[str, Any], *, event_id: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Push one event as an ``events_api`` envelope to the connected app; return its ack.

        Uses the newest connection, like Slack picks one of an app's connections.
        Raises AssertionError when no client is connected or no ack arrives within ``timeout``.
        """
        body = event if event.get("type") == "event_callback" else self.envelope(event, event_id=event_id)
        envelope_id = str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": body,
        }
        socket_id = self.wait_for_socket_client(timeout)
        with self._lock:
            client = self._socket_clients.get(socket_id)
        if client is None:
            raise AssertionError("the Socket Mode client disconnected before the event was sent")
        future = asyncio.run_coroutine_threadsafe(client.ws.send_json(message), client.loop)
        future.result(timeout)

        def acked() -> dict[str, Any] | None:
            return next((a for a in self._socket_acks if a.get("envelope_id") == envelope_id), None)

        with self._socket_changed:
            if not self._socket_changed.wait_for(lambda: acked() is not None, timeout):
                raise AssertionError(f"no ack for Socket Mode envelope {envelope_id} within {timeout}s")
            ack = acked()
        assert ack is not None
        return ack
