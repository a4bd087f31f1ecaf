"""Attachments in S3: the performance guide's tuned multipart transfers, and the S3 client."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from storage.file_pipe import (
    READ_CHUNK,
    ChunkPipe,
    pump_into,
    read_ahead,
    report_transfer,
    stored_or_discarded,
)
from storage.file_store import DEFAULT_URL_EXPIRY_S, MB, FileStoreError, OnTransfer, StoredObject

logger = logging.getLogger(__name__)

# --- The performance guide's S3 tuning ("S3 File Transfer Optimization"), kept here by name. ---
# Files under 50 MB go up in one PUT (one round trip); larger ones go multipart.
MULTIPART_THRESHOLD = 50 * MB
# 8 MB parts: small enough to stream and retry cheaply, large enough to keep the part count
# (max 10,000) and per-request overhead low; also what the transfer manager buffers per part.
MULTIPART_CHUNKSIZE = 8 * MB
# Up to 10 parts in flight at once per transfer.
MAX_CONCURRENCY = 10
# boto3's default I/O queue is 100 entries; a larger one keeps download writes from stalling
# the network threads.
MAX_IO_QUEUE = 1000
# A ranged GET that dies mid-body (socket error, read timeout) is retried this many times.
NUM_DOWNLOAD_ATTEMPTS = 5
# botocore's own retries for throttling / 5xx / connection errors, in standard mode
# (token-bucket retry quota, exponential back-off with jitter).
RETRY_MODE = "standard"
RETRY_MAX_ATTEMPTS = 5
# Every in-flight part needs its own pooled connection, with room for a second transfer.
MAX_POOL_CONNECTIONS = 2 * MAX_CONCURRENCY
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60


def s3_transfer_config() -> Any:
    """The guide's tuning as a boto3 TransferConfig (classic s3transfer manager, threads on)."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNKSIZE,
        max_concurrency=MAX_CONCURRENCY,
        max_io_queue=MAX_IO_QUEUE,
        num_download_attempts=NUM_DOWNLOAD_ATTEMPTS,
        use_threads=True,
        preferred_transfer_client="classic",
    )


def build_s3_client(*, region: str | None, endpoint_url: str | None = None) -> Any:
    """One S3 client for the process: pooled connections, retries and timeouts from the constants.

    Credentials come from boto3's standard chain (env, profile, role). An endpoint URL
    means an S3-compatible store (MinIO, moto…), which wants path-style addressing.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        signature_version="s3v4",
        retries={"mode": RETRY_MODE, "max_attempts": RETRY_MAX_ATTEMPTS},
        max_pool_connections=MAX_POOL_CONNECTIONS,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        tcp_keepalive=True,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, config=config)


class S3FileStore:
    """Attachments in one private bucket, encrypted at rest (SSE-S3, AES256)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        transfer_config: Any | None = None,
        on_transfer: OnTransfer | None = None,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.transfer_config = transfer_config if transfer_config is not None else s3_transfer_config()
        self._on_transfer = on_transfer

    @property
    def client(self) -> Any:
        return self._client

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        max_bytes: int,
        size_hint: int | None = None,
    ) -> StoredObject:
        """Stream ``chunks`` into ``key``; multipart above the threshold, aborted on any failure.

        s3transfer cannot tell a stream's size, so it would read a whole threshold (50 MB)
        into one buffer to decide between PUT and multipart, then slice parts out of it
        (copies): ~+60 MB of peak memory on a large file. Instead we tell it the size: from
        ``size_hint`` (e.g. the Slack file's ``size``) when that says "large", otherwise by
        reading ahead as ≤1 MB chunks up to the threshold (which a small file ends within).
        """
        started = time.perf_counter()
        pipe = ChunkPipe(asyncio.get_running_loop())
        extra = {
            "ServerSideEncryption": "AES256",
            "ContentType": content_type or "application/octet-stream",
        }
        config = self.transfer_config
        size = size_hint or 0

        def upload(source: ChunkPipe) -> None:
            # What client.upload_fileobj does, plus stating the size, which upload_fileobj can't.
            from boto3.s3.transfer import create_transfer_manager

            with create_transfer_manager(self._client, config) as manager:
                future = manager.upload(
                    source, self.bucket, key, extra_args=extra, subscribers=[_KnownSize(size)]
                )
                source.abandon_when(future.done)  # done early = a part or the create failed
                source.cancel_consumer = future.cancel
                future.result()

        async def transfer() -> None:
            nonlocal chunks, size
            if size < config.multipart_threshold:
                chunks, size = await read_ahead(chunks, min(config.multipart_threshold, max_bytes + 1))
                size = max(size, config.multipart_threshold) if size < 0 else size
            await pump_into(pipe, chunks, upload, max_bytes)

        return await stored_or_discarded(
            transfer(),
            key=key,
            pipe=pipe,
            started=started,
            discard=lambda: self._discard(key),
            on_transfer=self._on_transfer,
            where="S3",
        )

    def _discard(self, key: str) -> None:
        """Abort any multipart upload left for ``key`` and remove a partial object.

        s3transfer aborts on most failures, but not when the failure lands before its
        CreateMultipartUpload registered the clean-up; checking costs one LIST.
        """
        try:
            listing = self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for upload in listing.get("Uploads", []):
                if upload.get("Key") == key:
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                    )
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            logger.warning("Could not clean up a failed upload: %s", type(error).__name__)

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        """Stream the object back; a body that breaks mid-way resumes with a ranged GET."""
        started = time.perf_counter()
        position = 0
        failures = 0
        failed = True
        try:
            while True:
                ranged = {"Range": f"bytes={position}-"} if position else {}
                try:
                    response = await asyncio.to_thread(
                        self._client.get_object, Bucket=self.bucket, Key=key, **ranged
                    )
                except Exception as error:
                    raise FileStoreError(f"download failed: {type(error).__name__}") from error
                body = response["Body"]
                try:
                    while True:
                        chunk = await asyncio.to_thread(body.read, READ_CHUNK)
                        if not chunk:
                            failed = False
                            return
                        position += len(chunk)
                        yield chunk
                except (OSError, *_botocore_stream_errors()) as error:
                    failures += 1
                    if failures >= NUM_DOWNLOAD_ATTEMPTS:
                        raise FileStoreError(f"download failed: {type(error).__name__}") from error
                finally:
                    body.close()
        finally:
            report_transfer(self._on_transfer, "download", position, started, failed)

    async def download_url(
        self, key: str, *, expires_in: int = DEFAULT_URL_EXPIRY_S, for_user: str | None = None
    ) -> str:
        """A presigned GET, valid ``expires_in`` seconds (no network call; a thread in case
        the credential chain has to fetch credentials)."""
        return await asyncio.to_thread(
            self._client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=expires_in,
        )

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)
        except Exception as error:
            raise FileStoreError(f"delete failed: {type(error).__name__}") from error

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (and abort its unfinished uploads)."""
        try:
            return await asyncio.to_thread(self._delete_prefix, prefix)
        except Exception as error:
            raise FileStoreError(f"delete failed: {type(error).__name__}") from error

    def _delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:  # a page holds at most 1,000 keys, delete_objects' limit
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        listing = self._client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        for upload in listing.get("Uploads", []):
            self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        return deleted

    async def close(self) -> None:
        closer = getattr(self._client, "close", None)
        if closer is not None:
            await asyncio.to_thread(closer)


class _KnownSize:
    """An s3transfer subscriber that states the upload's size before it starts."""

    def __init__(self, size: int) -> None:
        self._size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        return None

    def on_done(self, future: Any, **kwargs: Any) -> None:
        return None


def _botocore_stream_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

    return (BotoConnectionError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError)


# --------------------------------------------------------------------------- local folder


# --------------------------------------------------------------------------- process memory

# glibc's M_MMAP_THRESHOLD: buffers at least this large get their own mapping, returned to the
# OS when freed. Left dynamic, glibc raises the threshold after the first 8 MB part is freed,
# and every later part comes from per-thread heaps that keep the memory (measured on a 1 GB
# upload: +35-40 MB of peak RSS). Fixing it keeps the peak at what the transfer really holds.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 * MB
_malloc_tuned = False


def keep_large_buffers_out_of_malloc_heaps() -> bool:
    """Fix glibc's mmap threshold at 1 MB for this process; True when applied (glibc only)."""
    global _malloc_tuned
    if _malloc_tuned:
        return True
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to tune
        return False
    _malloc_tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return _malloc_tuned


# --------------------------------------------------------------------------- factory
