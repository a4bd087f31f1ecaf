"""The attachments bench's workers: each measurement in a fresh interpreter, so its peak RSS is its own.

``python -m bench.attachments --worker MODE`` runs one of them (``bench.attachments`` is the
entry point and the parent); the ``serve`` mode measures a ``coachbot serve`` process instead
(``bench/attachments_serve.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

MB = 1024 * 1024
BUCKET = "coachbot-bench"
REGION = "us-east-1"
TOKEN = "xoxb-bench"
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


def worker(args: argparse.Namespace) -> dict[str, Any]:
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
    from bot.assembly.config import Settings
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

    from bot.delivery.slack_files import stream_slack_file

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
    from bot.assembly.config import Settings
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
    from bot.assembly.config import Settings
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
