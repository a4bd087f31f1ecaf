"""``python -m bench --scenario attachments`` (or ``python -m bench.attachments``): Slack file → S3.

Streams one generated file (1 GB by default) from the devkit Slack emulator to moto's S3
server three ways, each in a fresh subprocess so its peak RSS is its own:

- ``tuned``: the real path — ``stream_slack_file`` → ``S3FileStore.put_stream`` with the
  performance guide's TransferConfig (50 MB threshold, 8 MB parts, 10 threads, larger I/O
  queue) and our botocore client (standard retries, 20 pooled connections);
- ``default``: the same stream and pipe, but a default boto3 client and ``TransferConfig()``;
- ``put_object``: the file first saved to disk (not timed), then one plain ``put_object``.

The raw PUT ingest rate of the same moto server (in-memory 8 MB bodies, one at a time and
10 at a time) is the reference: no upload can beat what the server accepts.
Prints a table and writes bench/results/attachments.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.processes import REPO_ROOT, ChildProcess, ProcessError, ProcessRegistry, child_env, free_port

MB = 1024 * 1024
BUCKET = "coachbot-bench"
REGION = "us-east-1"
TOKEN = "xoxb-bench"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench-access-key", "AWS_SECRET_ACCESS_KEY": "bench-secret-key"}
MODES: dict[str, str] = {
    "tuned": "stream → put_stream, tuned TransferConfig + client",
    "default": "stream → put_stream, boto3 defaults",
    "put_object": "file on disk → one put_object",
}
RESULTS = REPO_ROOT / "bench" / "results" / "attachments.json"
READY = "BENCH_READY "
RESULT = "BENCH_RESULT "
START_TIMEOUT = 30.0
REFERENCE_PUTS = 8  # 8 MB bodies each way: 64 MB sequential, 80 MB ten at a time
REFERENCE_PARALLEL_PUTS = 10


# --------------------------------------------------------------------------- memory


class PeakRss:
    """This process's RSS before a transfer, and its peak during it.

    The kernel's high-water mark (``ru_maxrss``) catches every spike, however short; a 10 ms
    sampler is kept as a cross-check. Growth = peak − baseline, so imports and the client's
    own set-up are not counted.
    """

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.sampled = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.sampled = max(self.sampled, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        return (max(high_water, self.sampled) - self.baseline) / MB


# --------------------------------------------------------------------------- workers (subprocesses)


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    from storage.files import keep_large_buffers_out_of_malloc_heaps

    # Every mode runs with the app's process-level tuning, so the modes differ only in how
    # they transfer (--plain-malloc measures without it).
    if not args.plain_malloc:
        keep_large_buffers_out_of_malloc_heaps()
    if args.worker == "reference":
        return _reference(args)
    if args.worker == "put_object":
        return _put_object(args)
    return _streamed(args)


def _tuned_store(endpoint: str) -> Any:
    """The app's own store, from build_file_store (which also fixes glibc's mmap threshold)."""
    from bot.config import Settings
    from storage.files import build_file_store

    return build_file_store(Settings(s3_bucket=BUCKET, s3_endpoint_url=endpoint))


def _default_store(endpoint: str) -> Any:
    import boto3
    from boto3.s3.transfer import TransferConfig

    from storage.files import S3FileStore

    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    return S3FileStore(client, BUCKET, transfer_config=TransferConfig())


def _streamed(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    from bot.slack_files import stream_slack_file

    store = _tuned_store(args.endpoint) if args.worker == "tuned" else _default_store(args.endpoint)
    config = store.transfer_config

    async def run() -> tuple[Any, float, float]:
        async with aiohttp.ClientSession() as session:
            with PeakRss() as memory:
                began = time.perf_counter()
                stream = stream_slack_file(session, args.url, TOKEN, max_bytes=args.size + 1)
                stored = await store.put_stream(
                    args.key,
                    stream,
                    content_type="application/octet-stream",
                    max_bytes=args.size + 1,
                    size_hint=None if args.no_size_hint else args.size,  # the Slack file's ``size``
                )
                wall = time.perf_counter() - began
        await store.close()
        return stored, wall, memory.growth_mb

    stored, wall, growth = asyncio.run(run())
    return {
        "mode": args.worker,
        "bytes": stored.size,
        "sha256": stored.sha256,
        "wall_s": wall,
        "peak_rss_growth_mb": growth,
        "config": {
            "multipart_threshold_mb": config.multipart_threshold / MB,
            "multipart_chunksize_mb": config.multipart_chunksize / MB,
            "max_concurrency": config.max_concurrency,
            "max_io_queue": config.max_io_queue,
            "max_pool_connections": store.client.meta.config.max_pool_connections,
        },
    }


def _put_object(args: argparse.Namespace) -> dict[str, Any]:
    from bot.config import Settings
    from storage.files import build_s3_client

    client = build_s3_client(Settings(s3_bucket=BUCKET, s3_endpoint_url=args.endpoint))
    with tempfile.TemporaryDirectory(prefix="bench-attachment-") as folder:
        path = Path(folder) / "file.bin"
        began = time.perf_counter()
        digest = hashlib.sha256()
        request = urllib.request.Request(args.url, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=60) as response, path.open("wb") as out:
            while chunk := response.read(MB):
                digest.update(chunk)
                out.write(chunk)
        saved = time.perf_counter() - began
        size = path.stat().st_size
        with PeakRss() as memory, path.open("rb") as body:
            began = time.perf_counter()
            client.put_object(
                Bucket=BUCKET,
                Key=args.key,
                Body=body,
                ContentLength=size,
                ContentType="application/octet-stream",
                ServerSideEncryption="AES256",
            )
            wall = time.perf_counter() - began
    return {
        "mode": "put_object",
        "bytes": size,
        "sha256": digest.hexdigest(),
        "wall_s": wall,
        "peak_rss_growth_mb": memory.growth_mb,
        "download_to_disk_s": saved,
    }


def _reference(args: argparse.Namespace) -> dict[str, Any]:
    from bot.config import Settings
    from storage.files import build_s3_client

    client = build_s3_client(Settings(s3_bucket=BUCKET, s3_endpoint_url=args.endpoint))
    body = hashlib.sha256(b"reference").digest() * (8 * MB // 32)

    def put(index: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"reference/{index}", Body=body)

    put(-1)  # warm the connection
    # ...and moto's multipart path: otherwise whichever mode runs first pays for it (10-30%).
    from io import BytesIO

    from storage.files import s3_transfer_config

    client.upload_fileobj(BytesIO(body * 8), BUCKET, "reference/warm-up", Config=s3_transfer_config())
    began = time.perf_counter()
    for index in range(REFERENCE_PUTS):
        put(index)
    sequential = time.perf_counter() - began
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(put, range(100, 100 + REFERENCE_PARALLEL_PUTS)))
    parallel = time.perf_counter() - began
    return {
        "mode": "reference",
        "sequential_mb_s": REFERENCE_PUTS * 8 / sequential,
        "parallel_mb_s": REFERENCE_PARALLEL_PUTS * 8 / parallel,
    }


# --------------------------------------------------------------------------- the Slack emulator child


def _serve_slack(args: argparse.Namespace) -> int:
    """Serve one generated file until SIGTERM; print its URL and digest for the parent."""
    from devkit.slack_emulator import SlackEmulator

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    with SlackEmulator(bot_token=TOKEN) as slack:
        shared = slack.add_file("recording.bin", size=args.size, mimetype="application/octet-stream")
        ready = {"url": shared["url_private_download"], "sha256": slack.sha256_of(shared["id"])}
        print(READY + json.dumps(ready), flush=True)
        while not done.wait(0.5):
            pass
    return 0


# --------------------------------------------------------------------------- the parent


def _wait_for_line(child: ChildProcess, prefix: str, timeout: float) -> str:
    """The rest of the child's first output line starting with ``prefix`` (read from its tail)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in child.tail(200).splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :]
        if not child.alive or time.monotonic() > deadline:
            raise child.fail(f"did not print {prefix.strip()} within {timeout:.0f} s")
        time.sleep(0.1)


def _wait_for_port(child: ChildProcess, port: int, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2):
                return
        except OSError:
            if not child.alive or time.monotonic() > deadline:
                raise child.fail("did not answer") from None
            time.sleep(0.1)


def _run_worker(mode: str, argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and read its JSON result line."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.attachments", "--worker", mode, *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
    raise ProcessError(f"the {mode} worker failed (exit {done.returncode}):\n{tail}")


def _admin_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
    )


def _empty_bucket(client: Any) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})


def run(
    size_mb: int = 1024,
    modes: Sequence[str] = tuple(MODES),
    *,
    no_size_hint: bool = False,
    plain_malloc: bool = False,
    say: Callable[[str], None] = print,
) -> int:
    """Start moto and the emulator, measure every mode, print the table, write the JSON."""
    size = size_mb * MB
    registry = ProcessRegistry()
    env = child_env(**FAKE_AWS, AWS_DEFAULT_REGION=REGION, PYTHONPATH=str(REPO_ROOT))
    results: list[dict[str, Any]] = []
    try:
        port = free_port()
        say(f"starting moto's S3 server and the Slack emulator ({size_mb} MB file)…")
        moto = registry.start(
            ChildProcess(
                "moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env
            )
        )
        slack = registry.start(
            ChildProcess(
                "slack-emulator",
                [sys.executable, "-m", "bench.attachments", "--serve-slack", "--size", str(size)],
                env,
            )
        )
        _wait_for_port(moto, port)
        endpoint = f"http://127.0.0.1:{port}"
        served = json.loads(_wait_for_line(slack, READY, START_TIMEOUT + size_mb / 50))
        admin = _admin_client(endpoint)
        admin.create_bucket(Bucket=BUCKET)
        base = ["--endpoint", endpoint, "--url", served["url"], "--size", str(size)]
        budget = 120 + size_mb * 1.5  # seconds per worker: generous, but bounded
        say("measuring the server's raw PUT ingest rate…")
        reference = _run_worker("reference", [*base, "--key", "reference"], env, budget)
        _empty_bucket(admin)
        for mode in modes:
            say(f"-- {mode}: {MODES[mode]}…")
            key = f"bench/{mode}/recording.bin"
            flags = ["--no-size-hint"] * no_size_hint + ["--plain-malloc"] * plain_malloc
            result = _run_worker(mode, [*base, *flags, "--key", key], env, budget)
            head = admin.head_object(Bucket=BUCKET, Key=key)
            etag = head["ETag"].strip('"')
            result.update(
                description=MODES[mode],
                mb_s=result["bytes"] / MB / result["wall_s"],
                sha256_ok=result["sha256"] == served["sha256"] and head["ContentLength"] == size,
                parts=int(etag.rsplit("-", 1)[1]) if "-" in etag else 1,
                sse=head.get("ServerSideEncryption"),
            )
            results.append(result)
            _empty_bucket(admin)  # moto keeps objects in memory / spooled files: one at a time
    except KeyboardInterrupt:
        say("interrupted: every process the bench started has been stopped")
        return 130
    except (ProcessError, subprocess.TimeoutExpired) as error:
        say(f"bench attachments: {error}")
        return 1
    finally:
        registry.stop_all()
    report = _report(size_mb, reference, results, size_hint=not no_size_hint, plain_malloc=plain_malloc)
    say(render(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    say(f"   wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0 if all(r["sha256_ok"] for r in results) else 1


def _report(
    size_mb: int,
    reference: dict[str, Any],
    results: list[dict[str, Any]],
    *,
    size_hint: bool,
    plain_malloc: bool,
) -> dict[str, Any]:
    import boto3

    return {
        "scenario": "attachments",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "size_mb": size_mb,
        "size_hint": size_hint,
        "mmap_threshold_fixed": not plain_malloc,
        "reference": reference,
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "boto3": boto3.__version__,
            "platform": platform.platform(),
        },
    }


def render(report: dict[str, Any]) -> str:
    ref = report["reference"]
    lines = [
        f"\nattachments: one {report['size_mb']} MB file, Slack emulator → moto S3 (127.0.0.1)",
        f"{'mode':<11} {'wall s':>8} {'MB/s':>8} {'peak RSS +MB':>13} {'parts':>6} {'sha256':>7}  what",
    ]
    for r in report["results"]:
        lines.append(
            f"{r['mode']:<11} {r['wall_s']:>8.1f} {r['mb_s']:>8.1f} {r['peak_rss_growth_mb']:>13.1f} "
            f"{r['parts']:>6} {'ok' if r['sha256_ok'] else 'BAD':>7}  {r['description']}"
        )
    lines.append(
        f"reference: raw PUT of in-memory 8 MB bodies {ref['sequential_mb_s']:.1f} MB/s one at a time, "
        f"{ref['parallel_mb_s']:.1f} MB/s ten at a time"
    )
    put = next((r for r in report["results"] if r["mode"] == "put_object"), None)
    if put is not None:
        lines.append(
            f"(put_object's file was saved to disk first, untimed: {put['download_to_disk_s']:.1f} s)"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.attachments", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the generated file (default 1024)")
    parser.add_argument(
        "--mode", action="append", choices=sorted(MODES), help="only these modes (repeatable)"
    )
    parser.add_argument(
        "--no-size-hint", action="store_true", help="don't pass the Slack file's size to put_stream"
    )
    parser.add_argument(
        "--plain-malloc", action="store_true", help="leave glibc's dynamic mmap threshold alone"
    )
    parser.add_argument("--worker", choices=[*MODES, "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--serve-slack", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size_mb < 1:
        parser.error("--size-mb must be at least 1")
    return args


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_slack:
        return _serve_slack(args)
    if args.worker:
        print(RESULT + json.dumps(_worker(args)), flush=True)
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    modes = args.mode or tuple(MODES)
    return run(args.size_mb, modes, no_size_hint=args.no_size_hint, plain_malloc=args.plain_malloc)


if __name__ == "__main__":
    sys.exit(main())
