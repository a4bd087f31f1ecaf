"""`coachbot try` as its own process: one URL on 127.0.0.1, a page fed over SSE, a model of your choice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devkit.fake_openai import FakeOpenAI

URL_LINE = re.compile(r"^Open (http://127\.0\.0\.1:\d+/)")


@contextmanager
def coachbot_try(tmp_path: Path, **env: str) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """Run `coachbot try`; yield the URL it printed, its output so far, and the process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_"))}
    environment.update(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.assembly.cli", "try", "--data-dir", str(tmp_path / "try-data")],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read_output() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any(URL_LINE.match(line) for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.05)
        url = next(m.group(1) for line in lines if (m := URL_LINE.match(line)))
        yield url, lines, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(30)


def say(url: str, text: str) -> dict[str, Any]:
    body = json.dumps({"user": "U0COACH", "channel": "D0COACH", "text": text}).encode()
    request = urllib.request.Request(f"{url}act/message", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def streamed_reply(url: str, timeout: float = 30.0) -> str:
    """Follow the page's SSE feed until a stream stops; the reply's text as the page assembles it."""
    text = ""
    with urllib.request.urlopen(f"{url}feed", timeout=timeout) as feed:
        for raw in feed:
            line = raw.decode().rstrip("\n")
            if not line.startswith("data: "):
                continue
            entry = json.loads(line[len("data: ") :])
            if (
                entry["kind"] != "call"
                or not entry["method"].startswith("chat.")
                or "Stream" not in entry["method"]
            ):
                continue
            args = entry["args"]
            text += args.get("markdown_text") or ""
            text += "".join(
                c.get("text", "") for c in args.get("chunks") or [] if c.get("type") == "markdown_text"
            )
            if entry["method"] == "chat.stopStream":
                return text
    raise AssertionError("the feed ended before a reply finished")


def test_without_a_key_it_prints_one_url_and_a_scripted_coach_answers(tmp_path: Path) -> None:
    with coachbot_try(tmp_path) as (url, lines, process):
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b"coachbot" in page.read()
        assert say(url, "I want to set a goal for this quarter.")["status"] == 200
        reply = streamed_reply(url)
        assert "What would a good outcome look like for you?" in reply
        assert "scripted fake model" in "".join(lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    assert sum(1 for line in lines if "http://" in line) == 1


def test_with_a_key_replies_come_from_that_model(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_reply("This answer came from the model OPENAI_BASE_URL names.")
    env = {"OPENAI_API_KEY": fake_openai.api_key, "OPENAI_BASE_URL": fake_openai.base_url}
    with coachbot_try(tmp_path, **env, OPENAI_MODEL="gpt-4.1-mini") as (url, lines, _):
        assert "gpt-4.1-mini" in "".join(lines)
        say(url, "Who is answering?")
        assert streamed_reply(url) == "This answer came from the model OPENAI_BASE_URL names."
    assert fake_openai.requests[0].body["model"] == "gpt-4.1-mini"
