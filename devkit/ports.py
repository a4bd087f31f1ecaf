"""Ports for child processes (replicas, a private PostgreSQL, the bench's servers) to bind.

A port chosen now is bound later, by another process, so it can be lost in between. ``bind(0)``
hands out ports from the kernel's ephemeral range, where every outgoing connection also takes its
source port: with thousands of connections in a test run, one can take the port first (or while
a replica restarts on it). So the port is chosen below that range, where only a listener can
take it. In-process servers bind their own socket instead (``bot.assembly.serve.bound_socket``).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Where the kernel takes the source ports of outgoing connections (Linux's default).
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: Ports a child process is given are chosen below that range, from here up.
_CHILD_PORTS_FROM = 10_000


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now, for a child process to bind.

    Below the ephemeral range when there is room; else whatever ``bind(0)`` gives.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(_CHILD_PORTS_FROM, low) if low > _CHILD_PORTS_FROM + 1000 else 0
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port below the ephemeral range")


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
