"""Start, watch and stop the processes under test: the two devkit fakes, coachbot and the floor app.

Each child runs in its own session, so a Ctrl-C reaches only the harness, which then stops the
children itself (SIGTERM, then SIGKILL after a bounded wait). Their output is drained by threads
so a chatty child never blocks on a full pipe; coachbot's ``Turn done`` lines are parsed as they
arrive because they carry the app's own measurements.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devkit.ports import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
OPENAI_KEY = "sk-devkit"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 25.0  # coachbot drains running turns for up to 10 s, uvicorn waits up to 15 s
FLOOR_REPLIED = "FLOOR_REPLIED"  # printed by bench/floor_app.py after each reply
# Only these are inherited, so a developer's SLACK_* / DB_* / STREAM_* settings cannot skew a run.
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")

_TURN_DONE = re.compile(
    r"Turn done session=(?P<session>\S+) surface=(?P<surface>\S+) "
    r"event_to_model_ms=(?P<event_to_model_ms>\S+) first_token_to_slack_ms=(?P<first_token_to_slack_ms>\S+) "
    r"last_token_to_final_ms=(?P<last_token_to_final_ms>\S+) model_ms=(?P<model_ms>\S+) "
    r"completion_tokens=(?P<completion_tokens>\S+) slack_calls=(?P<slack_calls>\S+)"
)


class ProcessError(RuntimeError):
    """A child did not start, or died; the message carries the end of its output."""


def child_env(**values: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


class ChildProcess:
    """One child process with its output pumped into a bounded tail and to line listeners."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> None:
        self.name = name
        self._argv = argv
        self._env = env
        self._cwd = cwd
        self._popen: subprocess.Popen[str] | None = None
        self._tail: deque[str] = deque(maxlen=200)
        self._listeners: list[Callable[[str], None]] = []
        self._pumps: list[threading.Thread] = []

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise ProcessError(f"{self.name} was never started")
        return self._popen.pid

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Called from a pump thread with every output line (stdout and stderr)."""
        self._listeners.append(listener)

    def start(self) -> ChildProcess:
        self._popen = subprocess.Popen(
            self._argv,
            cwd=self._cwd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        for stream in (self._popen.stdout, self._popen.stderr):
            pump = threading.Thread(target=self._pump, args=(stream,), name=f"{self.name}-pump", daemon=True)
            pump.start()
            self._pumps.append(pump)
        return self

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]  # ends when the child closes the pipe
            line = line.rstrip("\n")
            self._tail.append(line)
            for listener in self._listeners:
                listener(line)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(list(self._tail)[-lines:])

    def fail(self, what: str) -> ProcessError:
        return ProcessError(f"{self.name} {what}; its last output:\n{self.tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, wait, then SIGKILL; safe to call twice."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            self._join_pumps()
            return
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)
        self._join_pumps()

    def _join_pumps(self) -> None:
        for pump in self._pumps:
            pump.join(2)


class ProcessRegistry:
    """Every child the run starts; ``stop_all`` (newest first) runs however the run ends."""

    def __init__(self) -> None:
        self._children: list[ChildProcess] = []
        self._lock = threading.Lock()

    def start(self, child: ChildProcess) -> ChildProcess:
        with self._lock:
            self._children.append(child)
        return child.start()

    def stop_all(self) -> None:
        with self._lock:
            children = list(reversed(self._children))
        for child in children:
            child.stop()


@dataclass(frozen=True)
class TurnLog:
    """One ``Turn done`` line: coachbot's own measurements of a turn."""

    read_at: float  # perf_counter when the harness read the line
    session: str
    surface: str
    event_to_model_ms: float | None
    first_token_to_slack_ms: float | None
    last_token_to_final_ms: float | None
    model_ms: float | None
    completion_tokens: int | None
    slack_calls: int | None


class AppLog:
    """What an app's output says, read by the pump threads as it arrives.

    coachbot's ``Turn done`` lines (its own measurements, and the sign a turn is over) and the
    floor app's ``FLOOR_REPLIED`` lines both count as completions, so the generator waits for a
    reply without polling anything; warnings and errors are kept for the report.
    """

    def __init__(self) -> None:
        self._turns: list[TurnLog] = []
        self._completions = 0
        self._problems: list[str] = []
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        match = _TURN_DONE.search(line)
        if match is not None:
            turn = _turn_log(match)
            with self._lock:
                self._turns.append(turn)
                self._completions += 1
        elif line == FLOOR_REPLIED:
            with self._lock:
                self._completions += 1
        elif " WARNING " in line or " ERROR " in line or "Traceback" in line:
            with self._lock:
                self._problems.append(line)

    def turn_count(self) -> int:
        with self._lock:
            return len(self._turns)

    def completions(self) -> int:
        with self._lock:
            return self._completions

    def turns_since(self, mark: int) -> list[TurnLog]:
        with self._lock:
            return self._turns[mark:]

    def problem_count(self) -> int:
        with self._lock:
            return len(self._problems)

    def problems_since(self, mark: int) -> list[str]:
        with self._lock:
            return self._problems[mark:]


def _number(raw: str) -> float | None:
    return None if raw == "None" else float(raw)


def _turn_log(match: re.Match[str]) -> TurnLog:
    tokens, calls = match["completion_tokens"], match["slack_calls"]
    return TurnLog(
        read_at=time.perf_counter(),
        session=match["session"],
        surface=match["surface"],
        event_to_model_ms=_number(match["event_to_model_ms"]),
        first_token_to_slack_ms=_number(match["first_token_to_slack_ms"]),
        last_token_to_final_ms=_number(match["last_token_to_final_ms"]),
        model_ms=_number(match["model_ms"]),
        completion_tokens=None if tokens == "None" else int(tokens),
        slack_calls=None if calls == "None" else int(calls),
    )


@dataclass
class DevkitServer:
    """A devkit fake as a child process, and the base URL it printed."""

    process: ChildProcess
    base_url: str

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:port``, where the ``/_devkit/*`` endpoints live."""
        return self.base_url.removesuffix("/").removesuffix("/api").removesuffix("/v1")


@dataclass
class HttpApp:
    """An HTTP app (coachbot or the floor app) as a child process."""

    process: ChildProcess
    port: int
    log: AppLog

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def start_devkit(registry: ProcessRegistry, name: str, module: str, *args: str) -> DevkitServer:
    """Run ``python -m <module> --port 0 …`` and wait (bounded) for its ``LISTENING <url>`` line."""
    listening = threading.Event()
    found: list[str] = []

    def watch(line: str) -> None:
        if line.startswith("LISTENING ") and not found:
            found.append(line.split(maxsplit=1)[1].strip())
            listening.set()

    child = ChildProcess(name, _python("-m", module, "--port", "0", *args), child_env())
    child.add_listener(watch)
    registry.start(child)
    deadline = time.monotonic() + START_TIMEOUT
    while not listening.wait(0.05):
        if not child.alive:
            raise child.fail("exited before listening")
        if time.monotonic() > deadline:
            raise child.fail(f"did not print LISTENING within {START_TIMEOUT:.0f} s")
    return DevkitServer(child, found[0])


def start_fake_openai(registry: ProcessRegistry, ttft: float, tps: float) -> DevkitServer:
    return start_devkit(registry, "fake-openai", "devkit.fake_openai", "--ttft", str(ttft), "--tps", str(tps))


def start_slack_emulator(registry: ProcessRegistry, *, rate_limits: bool = False) -> DevkitServer:
    """The emulator; ``rate_limits`` has it enforce Slack's rate tiers (HTTP 429 + Retry-After)."""
    return start_devkit(
        registry,
        "slack-emulator",
        "devkit.slack_emulator",
        "--bot-token",
        BOT_TOKEN,
        "--signing-secret",
        SIGNING_SECRET,
        *([] if rate_limits else ["--no-rate-limits"]),
    )


def start_coachbot(
    registry: ProcessRegistry,
    slack: DevkitServer,
    model: DevkitServer,
    database_url: str,
    app_root: Path = REPO_ROOT,
    extra_env: dict[str, str] | None = None,
) -> HttpApp:
    """``python -m bot.assembly.cli serve`` as in production: it migrates the database itself on start.

    ``app_root``: run the app from another checkout (e.g. a ``git worktree`` of an earlier
    commit), with this one's harness, to measure a change before and after. ``extra_env``: more
    settings (S3, limits) for the scenarios that need them.
    """
    port = free_port()
    env = child_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        OPENAI_API_KEY=OPENAI_KEY,
        OPENAI_BASE_URL=model.base_url,
        DATABASE_URL=database_url,
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="INFO",
        **(extra_env or {}),
    )
    return _start_http_app(
        registry, "coachbot", _python("-m", "bot.assembly.cli", "serve"), env, port, app_root
    )


def start_floor_app(registry: ProcessRegistry, slack: DevkitServer) -> HttpApp:
    """The minimal Bolt app of bench/floor_app.py: the cost of Bolt + Starlette + uvicorn alone."""
    port = free_port()
    env = child_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        HOST="127.0.0.1",
        PORT=str(port),
    )
    return _start_http_app(registry, "floor-app", _python("-m", "bench.floor_app"), env, port)


def _start_http_app(
    registry: ProcessRegistry,
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    cwd: Path = REPO_ROOT,
) -> HttpApp:
    log = AppLog()
    child = ChildProcess(name, argv, env, cwd)
    child.add_listener(log.feed)
    registry.start(child)
    app = HttpApp(child, port, log)
    _wait_healthy(app)
    return app


def _wait_healthy(app: HttpApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not app.process.alive:
            raise app.process.fail("exited during start-up")
        try:
            with urllib.request.urlopen(f"{app.url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise app.process.fail(f"did not answer /healthz within {START_TIMEOUT:.0f} s")


@dataclass(frozen=True)
class ProcessUsage:
    """Resident memory and CPU time of a process, from /proc (Linux only)."""

    rss_kib: int
    cpu_seconds: float
    peak_rss_kib: int = 0  # VmHWM: the most the process has held resident since it started


def _status_kib(status: str, key: str) -> int:
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(key)), 0)


def process_usage(pid: int) -> ProcessUsage:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = _status_kib(status, "VmRSS:")
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    ticks = os.sysconf("SC_CLK_TCK")
    # After the name: state is field 3, utime field 14 and stime field 15 (1-based, see proc(5)).
    utime, stime = int(fields[11]), int(fields[12])
    return ProcessUsage(
        rss_kib=rss, cpu_seconds=(utime + stime) / ticks, peak_rss_kib=_status_kib(status, "VmHWM:")
    )
