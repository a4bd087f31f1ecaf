"""`coachbot serve`, the production entry point, as its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devkit.fake_openai import FakeOpenAI
from devkit.ports import free_port
from devkit.slack_emulator import SlackEmulator


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("coachbot serve did not become healthy")


def test_serve_migrates_answers_slack_and_shuts_down_cleanly(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack_emulator.bot_token,
        "SLACK_SIGNING_SECRET": slack_emulator.signing_secret,
        "SLACK_API_URL": slack_emulator.base_url,
        "OPENAI_API_KEY": fake_openai.api_key,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "SQLITE_DB_PATH": str(tmp_path / "served.db"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    env.pop("DATABASE_URL", None)
    fake_openai.queue_reply("Served by the real entry point.")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.assembly.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        event = slack_emulator.user_says(channel="D0SERVE", text="Is this the real thing?")

        assert slack_emulator.send_event(f"{url}/slack/events", event).status == 200
        reply = slack_emulator.wait_for_replies("D0SERVE", event["ts"], count=1, timeout=15)[-1]
        assert reply.text == "Served by the real entry point."
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)

    logged = stderr.decode()
    assert process.returncode in (0, -signal.SIGTERM), logged  # uvicorn re-raises the signal it handled
    assert "Application shutdown complete" in logged
    assert "Turn done session=" in logged
    assert "Is this the real thing?" not in logged
    assert slack_emulator.bot_token not in logged
