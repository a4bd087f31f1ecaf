"""The attachment file store: S3 (tuned multipart transfers) or a local folder, one interface.

Bytes arrive as an async iterator (a Slack download) and are handed to a blocking
writer in a worker thread through a *bounded* pipe, so the event loop never blocks
and a 1 GB file never sits in memory: at most ``PIPE_CHUNKS`` chunks wait in the
pipe, plus what boto3's transfer manager holds for its in-flight parts.
The SHA-256 and the size are computed as the bytes pass; a failure on either side
aborts the upload so nothing half-stored is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import queue
import re
import secrets
import tempfile
import threading
import time
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import quote

from bot.assembly.config import Settings

logger = logging.getLogger(__name__)

MB = 1024 * 1024

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

# The bounded hand-over between the event loop and the writer thread: chunks (≈1 MB each
# from a Slack download) that may wait before the producer has to pause.
PIPE_CHUNKS = 8
# Read-back chunk size for open_stream.
READ_CHUNK = 1 * MB

DEFAULT_URL_EXPIRY_S = 300
SAFE_NAME_MAX = 120
_EXTENSION_MAX = 16

OnTransfer = Callable[[str, int, float, bool], None]


@dataclass(frozen=True)
class StoredObject:
    """What was stored: where, how many bytes, and their SHA-256 (hex)."""

    key: str
    size: int
    sha256: str


class AttachmentTooLarge(Exception):
    """The stream went over ``max_bytes``; nothing is left stored."""

    def __init__(self, max_bytes: int, seen: int | None = None):
        detail = f" (at least {seen} bytes)" if seen is not None else ""
        super().__init__(f"attachment is larger than {max_bytes} bytes{detail}")
        self.max_bytes = max_bytes
        self.seen = seen


class FileStoreError(Exception):
    """Uploading to or reading from the store failed; nothing is left stored."""


@runtime_checkable
class FileStore(Protocol):
    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        max_bytes: int,
        size_hint: int | None = None,
    ) -> StoredObject: ...

    def open_stream(self, key: str) -> AsyncIterator[bytes]: ...

    async def download_url(
        self, key: str, *, expires_in: int = DEFAULT_URL_EXPIRY_S, for_user: str | None = None
    ) -> str: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------- keys


def safe_file_name(name: str, max_length: int = SAFE_NAME_MAX) -> str:
    """A file name safe in an S3 key, a URL and a local path: no separators, no control
    characters, ASCII, bounded, keeping the extension so the type stays recognisable."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text)  # separators and control characters included
    text = re.sub(r"_+", "_", text).strip("._-")
    if not text:
        return "file"
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext) > _EXTENSION_MAX:
        stem, ext = text, ""
    suffix = f".{ext}" if ext else ""
    stem = stem[: max(1, max_length - len(suffix))].strip("._-") or "file"
    return stem + suffix


def _key_part(value: object) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(value)) or "_"


def object_key(team_id: str, session_id: int, attachment_id: int, file_name: str) -> str:
    """``{team}/{session}/{attachment id}/{safe file name}``: a session's files share a prefix."""
    return f"{_key_part(team_id)}/{int(session_id)}/{int(attachment_id)}/{safe_file_name(file_name)}"


# --------------------------------------------------------------------------- the loop → thread pipe


_EOF = object()


class _ChunkPipe:
    """A read-only file object over chunks put on the event loop and read in a worker thread.

    Bounded: the producer awaits a free slot (``PIPE_CHUNKS``), so memory stays flat
    whatever the file's size. The reader hashes and counts the bytes as they pass.
    An error pushed by the producer is raised from ``read`` so the blocking consumer
    (upload_fileobj, a file copy) fails, and aborts, instead of storing a short file.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, slots: int = PIPE_CHUNKS) -> None:
        self._loop = loop
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._space = asyncio.Semaphore(slots)
        self._buffer = b""
        self._eof = False
        self._error: BaseException | None = None
        self._sha = hashlib.sha256()
        self._abandoned: Callable[[], bool] | None = None
        # How to stop the consumer once the stream has ended (the S3 store sets it to cancel
        # its transfer); before that, failing the pipe is enough.
        self.cancel_consumer: Callable[[], object] = lambda: self.fail(_StreamFailed("cancelled"))
        self.size = 0
        self.closed = False

    # producer side (event loop)
    async def put(self, chunk: bytes) -> None:
        await self._space.acquire()
        self._items.put(chunk)

    def finish(self) -> None:
        self._items.put(_EOF)

    def fail(self, error: BaseException) -> None:
        self._items.put(error)

    def abandon_when(self, check: Callable[[], bool]) -> None:
        """Stop reading once ``check()`` is true (the consumer already failed): without this
        s3transfer would keep reading, and discarding, the rest of the download."""
        self._abandoned = check

    # consumer side (worker thread)
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, amount: int | None = -1) -> bytes:
        """Exactly ``amount`` bytes unless the stream ends (s3transfer relies on that)."""
        want = None if amount is None or amount < 0 else amount
        parts = [self._buffer] if self._buffer else []
        have = len(self._buffer)
        self._buffer = b""
        while (want is None or have < want) and not self._eof:
            chunk = self._next()
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if want is not None and len(data) > want:
            data, self._buffer = data[:want], data[want:]
        return data

    def _next(self) -> bytes | None:
        if self._error is not None:
            raise self._error
        if self._abandoned is not None and self._abandoned():
            self._error = _StreamFailed("the transfer failed; reading stopped")
            raise self._error
        item = self._items.get()
        if item is _EOF:
            self._eof = True
            return None
        if isinstance(item, BaseException):
            self._error = item
            raise item
        self._loop.call_soon_threadsafe(self._space.release)
        chunk = item if isinstance(item, bytes) else bytes(item)  # type: ignore[arg-type]
        self._sha.update(chunk)
        self.size += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    @property
    def error(self) -> BaseException | None:
        return self._error


class _StreamFailed(Exception):
    """The pipe stopped (the caller was cancelled, or the consumer had already failed)."""


async def _pump(
    pipe: _ChunkPipe,
    chunks: AsyncIterator[bytes],
    consumer: Callable[[_ChunkPipe], None],
    max_bytes: int,
) -> None:
    """Feed ``chunks`` into ``pipe`` while ``consumer(pipe)`` runs in a thread; fail both together.

    Raises AttachmentTooLarge, the stream's own error, or the consumer's error.
    """
    writer = asyncio.ensure_future(asyncio.to_thread(consumer, pipe))
    producer_error: BaseException | None = None
    seen = 0
    try:
        async for chunk in chunks:
            if writer.done():
                break  # the consumer already failed; its error is raised below
            if not chunk:
                continue
            seen += len(chunk)
            if seen > max_bytes:
                raise AttachmentTooLarge(max_bytes, seen)
            await _race(pipe.put(chunk), writer)
        else:
            pipe.finish()
    except BaseException as error:  # includes cancellation: the consumer must still abort
        producer_error = error
        pipe.fail(error if isinstance(error, Exception) else _StreamFailed("cancelled"))
    finally:
        await _aclose(chunks)
    while not writer.done():  # the consumer always finishes (or aborts) before we return
        try:
            await asyncio.wait({writer})
        except asyncio.CancelledError as cancelled:
            producer_error = producer_error or cancelled
            pipe.cancel_consumer()
    consumer_error = writer.exception()  # retrieved either way: no "never retrieved" warning
    if producer_error is not None:
        raise producer_error
    if consumer_error is not None:
        raise consumer_error


async def _read_ahead(chunks: AsyncIterator[bytes], limit: int) -> tuple[AsyncIterator[bytes], int]:
    """Buffer up to ``limit`` bytes; returns the whole stream again and its exact size if it
    ended within the limit, else -1. The buffered chunks are released as they are re-read."""
    head: deque[bytes] = deque()
    total = 0
    iterator = aiter(chunks)
    try:
        while total < limit:
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                return _replay(head, None), total
            head.append(chunk)
            total += len(chunk)
    except BaseException:
        await _aclose(iterator)
        raise
    return _replay(head, iterator), -1


async def _replay(head: deque[bytes], rest: AsyncIterator[bytes] | None) -> AsyncIterator[bytes]:
    try:
        while head:
            yield head.popleft()
        if rest is not None:
            async for chunk in rest:
                yield chunk
    finally:
        if rest is not None:
            await _aclose(rest)


async def _aclose(iterator: AsyncIterator[bytes]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()


async def _race(put: Any, writer: asyncio.Future[Any]) -> None:
    """Wait for a pipe slot, unless the consumer finished (failed) first."""
    put_task = asyncio.ensure_future(put)
    if put_task.done():
        return put_task.result()
    await asyncio.wait({put_task, writer}, return_when=asyncio.FIRST_COMPLETED)
    if not put_task.done():
        put_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await put_task
        return None
    return put_task.result()


async def _stored_or_discarded(
    transfer: Coroutine[Any, Any, None],
    *,
    key: str,
    pipe: _ChunkPipe,
    started: float,
    discard: Callable[[], object],
    on_transfer: OnTransfer | None,
    where: str,
) -> StoredObject:
    """Run an upload; on any failure leave nothing behind, report it, and raise what callers expect.

    ``AttachmentTooLarge`` and cancellation pass through as themselves; anything else becomes a
    ``FileStoreError`` (the cause chained) so the intake can tell the coach the store failed.
    """
    try:
        await transfer
    except BaseException as error:
        await asyncio.shield(asyncio.to_thread(discard))
        _report(on_transfer, "upload", pipe.size, started, True)
        if isinstance(error, AttachmentTooLarge | asyncio.CancelledError):
            raise
        logger.warning("Upload to %s failed: %s", where, type(error).__name__)
        raise FileStoreError(f"upload failed: {type(error).__name__}") from error
    _report(on_transfer, "upload", pipe.size, started, False)
    return StoredObject(key=key, size=pipe.size, sha256=pipe.sha256)


def _report(on_transfer: OnTransfer | None, direction: str, size: int, started: float, failed: bool) -> None:
    if on_transfer is None:
        return
    try:
        on_transfer(direction, size, time.perf_counter() - started, failed)
    except Exception:  # metrics must never break a transfer
        logger.exception("on_transfer callback failed")


# --------------------------------------------------------------------------- S3


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


def build_s3_client(settings: Settings) -> Any:
    """One S3 client for the process: pooled connections, retries and timeouts from the constants.

    Credentials come from boto3's standard chain (env, profile, role). An endpoint URL
    means an S3-compatible store (MinIO, moto…), which wants path-style addressing.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.s3_region,
        signature_version="s3v4",
        retries={"mode": RETRY_MODE, "max_attempts": RETRY_MAX_ATTEMPTS},
        max_pool_connections=MAX_POOL_CONNECTIONS,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        tcp_keepalive=True,
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


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
        pipe = _ChunkPipe(asyncio.get_running_loop())
        extra = {
            "ServerSideEncryption": "AES256",
            "ContentType": content_type or "application/octet-stream",
        }
        config = self.transfer_config
        size = size_hint or 0

        def upload(source: _ChunkPipe) -> None:
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
                chunks, size = await _read_ahead(chunks, min(config.multipart_threshold, max_bytes + 1))
                size = max(size, config.multipart_threshold) if size < 0 else size
            await _pump(pipe, chunks, upload, max_bytes)

        return await _stored_or_discarded(
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
            _report(self._on_transfer, "download", position, started, failed)

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


def sign_file_link(secret: bytes, key: str, expires: int, user: str = "") -> str:
    """HMAC-SHA256 over the key, its expiry and whom it was made for: a link can't be moved to
    another file, extended or handed to someone else's name."""
    return hmac.new(secret, f"{key}\n{expires}\n{user}".encode(), hashlib.sha256).hexdigest()


class LocalFileStore:
    """Attachments in a local folder (no S3 configured, e.g. ``make demo``), same interface.

    Writes go to a temp file next to the target and are renamed into place only when
    complete, so a reader never sees half a file. Links are signed and expire; the
    app's ``GET /files/{key}`` checks them (``resolve_signed``) and streams the file.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        base_url: str,
        secret: str | bytes | None = None,
        on_transfer: OnTransfer | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.base_url = base_url.rstrip("/")
        if isinstance(secret, str):
            secret = secret.encode()
        # Without a secret links only need to work for this process's lifetime.
        self._secret = secret or secrets.token_bytes(32)
        self._on_transfer = on_transfer
        self._mkdir_lock = threading.Lock()

    def path_for(self, key: str) -> Path:
        """The file for ``key``; raises FileStoreError for a key that escapes the root."""
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise FileStoreError("invalid key")
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise FileStoreError("invalid key")
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise FileStoreError("invalid key")
        return path

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str,
        max_bytes: int,
        size_hint: int | None = None,
    ) -> StoredObject:
        started = time.perf_counter()
        target = self.path_for(key)
        pipe = _ChunkPipe(asyncio.get_running_loop())

        def write(source: _ChunkPipe) -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    _copy(source, out)
                os.replace(temp_name, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
                raise

        return await _stored_or_discarded(
            _pump(pipe, chunks, write, max_bytes),
            key=key,
            pipe=pipe,
            started=started,
            # keys are unique per attachment: a file here now is this call's, complete or not
            discard=lambda: target.unlink(missing_ok=True),
            on_transfer=self._on_transfer,
            where="the local folder",
        )

    async def open_stream(self, key: str) -> AsyncIterator[bytes]:
        started = time.perf_counter()
        path = self.path_for(key)
        size = 0
        failed = True
        try:
            try:
                handle = await asyncio.to_thread(open, path, "rb")
            except OSError as error:
                raise FileStoreError(f"download failed: {type(error).__name__}") from error
            try:
                while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                    size += len(chunk)
                    yield chunk
                failed = False
            finally:
                handle.close()
        finally:
            _report(self._on_transfer, "download", size, started, failed)

    async def download_url(
        self, key: str, *, expires_in: int = DEFAULT_URL_EXPIRY_S, for_user: str | None = None
    ) -> str:
        """A signed, expiring link; ``for_user`` (the session's coach) is signed into it, and the
        app's ``GET /files/…`` serves it only while that user is the coach of the file's session."""
        self.path_for(key)
        expires = int(time.time()) + expires_in
        user = for_user or ""
        signature = sign_file_link(self._secret, key, expires, user)
        owner = f"&u={quote(user)}" if user else ""
        return f"{self.base_url}/files/{quote(key)}?expires={expires}{owner}&sig={signature}"

    def resolve_signed(
        self, key: str, expires: str | None, sig: str | None, user: str | None = None
    ) -> Path | None:
        """The file a signed link points at, or None when the link is bad, expired or the file gone."""
        if not expires or not sig or not expires.isdigit():
            return None
        if int(expires) < time.time():
            return None
        if not hmac.compare_digest(sign_file_link(self._secret, key, int(expires), user or ""), sig):
            return None
        try:
            path = self.path_for(key)
        except FileStoreError:
            return None
        return path if path.is_file() else None

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        try:
            await asyncio.to_thread(path.unlink, True)
        except OSError as error:
            raise FileStoreError(f"delete failed: {type(error).__name__}") from error

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> int:
        prefix = prefix.strip("/")
        if not prefix:
            raise FileStoreError("refusing to delete the whole store")
        base = self.path_for(prefix)
        if base.is_file():
            base.unlink()
            return 1
        deleted = 0
        if base.is_dir():
            for path in sorted(base.rglob("*"), reverse=True):
                if path.is_file():
                    path.unlink()
                    deleted += 1
                elif path.is_dir():
                    with contextlib.suppress(OSError):
                        path.rmdir()
            with contextlib.suppress(OSError):
                base.rmdir()
        return deleted

    async def close(self) -> None:
        return None


def _copy(source: _ChunkPipe, out: IO[bytes]) -> None:
    while chunk := source.read(READ_CHUNK):
        out.write(chunk)


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


def build_file_store(settings: Settings, *, on_transfer: OnTransfer | None = None) -> FileStore:
    """S3 when ``S3_BUCKET`` is set; otherwise a local folder under ``ATTACHMENTS_DIR``."""
    if settings.s3_bucket:
        keep_large_buffers_out_of_malloc_heaps()
        return S3FileStore(build_s3_client(settings), settings.s3_bucket, on_transfer=on_transfer)
    base_url = settings.public_url or f"http://127.0.0.1:{settings.port}"
    return LocalFileStore(
        settings.attachments_dir,
        base_url=base_url,
        secret=settings.slack_signing_secret or None,
        on_transfer=on_transfer,
    )
