"""The attachments bench's ``serve`` mode: one large ``file_share`` event through ``coachbot serve``.

The product's own path, in production shape: ``python -m bot.assembly.cli serve`` in its own process
(SQLite, S3 on moto's server, the Slack emulator's Web API and file server), a Slack-signed
``file_share`` event POSTed to ``/slack/events``, and the intake doing the rest — the file's
metadata check, the download from ``url_private_download``, the multipart upload, the row, the
✅ reaction and the confirmation in the thread. What is measured is the serve process: its RSS
growth from just before the event to the peak while the file streams, sampled every 10 ms with
psutil and cross-checked by the kernel's high-water mark (``VmHWM``, reset just before the
event). A small file goes through first, so the first-use imports and clients are not counted.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.processes import (
    REPO_ROOT,
    SIGNING_SECRET,
    ChildProcess,
    DevkitServer,
    ProcessError,
    ProcessRegistry,
    process_usage,
    start_coachbot,
    start_fake_openai,
)
from devkit.signing import sign

MB = 1024 * 1024
SAMPLE_EVERY_S = 0.01
_STORED = re.compile(r"Attachment (\d+) (stored|not stored)")


class ServeRss:
    """The serve process's RSS just before the event, and its peak until ``stop``."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._pid = pid
        self._process = psutil.Process(pid)
        self.baseline = self._process.memory_info().rss
        self.sampled = self.baseline
        self.hwm_reset = _reset_high_water_mark(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sampled = max(self.sampled, self._process.memory_info().rss)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        high_water = process_usage(self._pid).peak_rss_kib * 1024
        sampled_mb = (self.sampled - self.baseline) / MB
        # Without a reset the high-water mark may be the start-up's peak: then it says nothing.
        hwm_mb = (high_water - self.baseline) / MB if self.hwm_reset else None
        return {
            "baseline_rss_mb": self.baseline / MB,
            "peak_rss_growth_mb": max(sampled_mb, hwm_mb or 0.0),
            "sampled_growth_mb": sampled_mb,
            "hwm_growth_mb": hwm_mb if hwm_mb is not None else float("nan"),
        }


def _reset_high_water_mark(pid: int) -> bool:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+, our own child)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Outcomes:
    """The app's "Attachment N stored / not stored" log lines, as they arrive."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def feed(self, line: str) -> None:
        match = _STORED.search(line)
        if match:
            with self._changed:
                self.lines.append((match.group(1), match.group(2)))
                self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> tuple[str, str]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.lines) >= count, timeout):
                raise ProcessError(f"no outcome for attachment {count} within {timeout:.0f} s")
            return self.lines[count - 1]


def _post_signed(url: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json", **sign(SIGNING_SECRET, raw)}
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        if answer.status != 200:
            raise ProcessError(f"/slack/events answered HTTP {answer.status}")


def _stored_row(database: Path, attachment_id: str) -> dict[str, Any]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            "SELECT status, size, sha256, storage_key FROM attachments WHERE id = ?", (int(attachment_id),)
        ).fetchone()
    if row is None:
        raise ProcessError(f"attachment {attachment_id} has no row")
    return dict(row)


def measure_serve(
    *,
    registry: ProcessRegistry,
    slack: ChildProcess,
    served: dict[str, Any],
    s3_env: dict[str, str],
    size: int,
    timeout: float,
    app_root: Path = REPO_ROOT,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start coachbot serve, warm it with a small file, then measure the large one."""
    model = start_fake_openai(registry, ttft=0.05, tps=1000)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        database = Path(folder) / "coachbot.db"
        app = start_coachbot(
            registry,
            DevkitServer(slack, served["base_url"]),
            model,
            f"sqlite:///{database}",
            app_root,
            extra_env={
                **s3_env,
                "MAX_ATTACHMENT_MB": str(size // MB + 1),
                "SCHEDULER_ENABLED": "false",
                "ATTACHMENTS_DIR": str(Path(folder) / "attachments"),
            },
        )
        outcomes = _Outcomes()
        app.process.add_listener(outcomes.feed)
        _post_signed(app.events_url, served["warm_up_event"])
        warm_id, warm = outcomes.wait_for(1, 60)
        if warm != "stored":
            raise app.process.fail(f"the warm-up file was {warm}")
        say(f"   coachbot serve (pid {app.process.pid}) is warm; sending the {size // MB} MB file_share…")
        memory = ServeRss(app.process.pid)
        began = time.perf_counter()
        _post_signed(app.events_url, served["event"])
        attachment_id, outcome = outcomes.wait_for(2, timeout)
        wall = time.perf_counter() - began
        rss = memory.stop()
        if outcome != "stored":
            raise app.process.fail(f"the {size // MB} MB file was {outcome}")
        row = _stored_row(database, attachment_id)
        app.process.stop()
    return {
        "mode": "serve",
        "bytes": row["size"],
        "sha256": row["sha256"],
        "key": row["storage_key"],
        "wall_s": wall,
        **rss,
        "app_root": str(app_root),
        "warm_up_attachment": warm_id,
    }
