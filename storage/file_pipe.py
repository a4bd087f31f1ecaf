"""The bounded hand-over from the event loop to a blocking writer thread, and its helpers.

Bytes arrive as an async iterator (a Slack download) and are handed to a blocking
writer in a worker thread through a *bounded* pipe, so the event loop never blocks
and a 1 GB file never sits in memory: at most ``PIPE_CHUNKS`` chunks wait in the
pipe. The SHA-256 and the size are computed as the bytes pass; a failure on either side
aborts the write so nothing half-stored is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from storage.file_store import MB, AttachmentTooLarge, FileStoreError, OnTransfer, StoredObject

logger = logging.getLogger(__name__)

# The bounded hand-over between the event loop and the writer thread: chunks (≈1 MB each
# from a Slack download) that may wait before the producer has to pause.
PIPE_CHUNKS = 8
# Read-back chunk size for open_stream.
READ_CHUNK = 1 * MB

_EOF = object()


class ChunkPipe:
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


async def pump_into(
    pipe: ChunkPipe,
    chunks: AsyncIterator[bytes],
    consumer: Callable[[ChunkPipe], None],
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


async def read_ahead(chunks: AsyncIterator[bytes], limit: int) -> tuple[AsyncIterator[bytes], int]:
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


async def stored_or_discarded(
    transfer: Coroutine[Any, Any, None],
    *,
    key: str,
    pipe: ChunkPipe,
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
        report_transfer(on_transfer, "upload", pipe.size, started, True)
        if isinstance(error, AttachmentTooLarge | asyncio.CancelledError):
            raise
        logger.warning("Upload to %s failed: %s", where, type(error).__name__)
        raise FileStoreError(f"upload failed: {type(error).__name__}") from error
    report_transfer(on_transfer, "upload", pipe.size, started, False)
    return StoredObject(key=key, size=pipe.size, sha256=pipe.sha256)


def report_transfer(
    on_transfer: OnTransfer | None, direction: str, size: int, started: float, failed: bool
) -> None:
    if on_transfer is None:
        return
    try:
        on_transfer(direction, size, time.perf_counter() - started, failed)
    except Exception:  # metrics must never break a transfer
        logger.exception("on_transfer callback failed")


# --------------------------------------------------------------------------- S3
