"""Attachments in a local folder (no S3 configured, e.g. ``make demo``), with signed, expiring links."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

from storage.file_pipe import READ_CHUNK, ChunkPipe, pump_into, report_transfer, stored_or_discarded
from storage.file_store import DEFAULT_URL_EXPIRY_S, FileStoreError, OnTransfer, StoredObject

logger = logging.getLogger(__name__)


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
        pipe = ChunkPipe(asyncio.get_running_loop())

        def write(source: ChunkPipe) -> None:
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

        return await stored_or_discarded(
            pump_into(pipe, chunks, write, max_bytes),
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
            report_transfer(self._on_transfer, "download", size, started, failed)

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


def _copy(source: ChunkPipe, out: IO[bytes]) -> None:
    while chunk := source.read(READ_CHUNK):
        out.write(chunk)
