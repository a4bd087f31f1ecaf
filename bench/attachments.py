"""``python -m bench --scenario attachments`` (or ``python -m bench.attachments``): Slack file → S3.

Streams one generated file (1 GB by default) from the devkit Slack emulator to moto's S3
server three ways, each in a fresh subprocess so its peak RSS is its own:

- ``tuned``: the real path — ``stream_slack_file`` → ``S3FileStore.put_stream`` with the
  performance guide's TransferConfig (50 MB threshold, 8 MB parts, 10 threads, larger I/O
  queue) and our botocore client (standard retries, 20 pooled connections);
- ``default``: the same stream and pipe, but a default boto3 client and ``TransferConfig()``;
- ``put_object``: the file first saved to disk (not timed), then one plain ``put_object``;
- ``serve``: the product's own path end to end, a Slack-signed ``file_share`` event into a real
  ``coachbot serve`` process, whose peak RSS growth is measured (``bench/attachments_serve.py``;
  ``--app-root`` runs another checkout's app, for a before/after).

The raw PUT ingest rate of the same moto server (in-memory 8 MB bodies, one at a time and
10 at a time) is the reference: no upload can beat what the server accepts.
Prints a table and writes bench/results/attachments.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.attachment_workers import BUCKET, MB, REGION, TOKEN, worker
from bench.attachments_serve import measure_serve
from bench.processes import (
    REPO_ROOT,
    SIGNING_SECRET,
    ChildProcess,
    ProcessError,
    ProcessRegistry,
    child_env,
    free_port,
)

FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench-access-key", "AWS_SECRET_ACCESS_KEY": "bench-secret-key"}
MODES: dict[str, str] = {
    "tuned": "stream → put_stream, tuned TransferConfig + client",
    "default": "stream → put_stream, boto3 defaults",
    "put_object": "file on disk → one put_object",
    "serve": "file_share event → coachbot serve (its RSS)",
}
RESULTS = REPO_ROOT / "bench" / "results" / "attachments.json"
READY = "BENCH_READY "
RESULT = "BENCH_RESULT "
START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- the Slack emulator child


def _serve_slack(args: argparse.Namespace) -> int:
    """Serve one generated file until SIGTERM; print its URL and digest for the parent."""
    from devkit.slack_emulator import SlackEmulator

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    with SlackEmulator(bot_token=TOKEN, signing_secret=SIGNING_SECRET) as slack:
        # A type coachbot takes (over 50 MB it is stored, not read), for the serve mode.
        shared = slack.add_file("recording.txt", size=args.size, mimetype="text/plain")
        warm_up = slack.add_file("warm-up.txt", size=MB, mimetype="text/plain")
        ready = {
            "url": shared["url_private_download"],
            "sha256": slack.sha256_of(shared["id"]),
            "base_url": slack.base_url,
            "event": slack.envelope(slack.file_share(channel="D0BENCH", files=[shared])),
            "warm_up_event": slack.envelope(slack.file_share(channel="D0BENCH", files=[warm_up])),
        }
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
    app_root: Path = REPO_ROOT,
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
            if mode == "serve":
                s3_env = {**FAKE_AWS, "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": endpoint, "S3_REGION": REGION}
                result = measure_serve(
                    registry=registry,
                    slack=slack,
                    served=served,
                    s3_env=s3_env,
                    size=size,
                    timeout=budget,
                    app_root=app_root,
                    say=say,
                )
                key = result["key"]
            else:
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
    serve = next((r for r in report["results"] if r["mode"] == "serve"), None)
    if serve is not None:
        lines.append(
            f"(serve: coachbot serve's RSS {serve['baseline_rss_mb']:.0f} MB before the event; growth "
            f"{serve['sampled_growth_mb']:.1f} MB sampled every 10 ms, {serve['hwm_growth_mb']:.1f} MB by "
            f"VmHWM; app from {serve['app_root']})"
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
    parser.add_argument(
        "--app-root", type=Path, default=REPO_ROOT, help="serve mode: run the app from this checkout"
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
        print(RESULT + json.dumps(worker(args)), flush=True)
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)
    modes = args.mode or tuple(MODES)
    return run(
        args.size_mb,
        modes,
        no_size_hint=args.no_size_hint,
        plain_malloc=args.plain_malloc,
        app_root=args.app_root.resolve(),
    )


if __name__ == "__main__":
    sys.exit(main())
