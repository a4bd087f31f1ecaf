"""The attachment file store's interface: what a store keeps, its errors, and its keys.

Two stores implement it: ``storage.s3_files.S3FileStore`` and ``storage.local_files.LocalFileStore``;
``storage.files.build_file_store`` picks one.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

logger = logging.getLogger(__name__)

MB = 1024 * 1024

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


def session_prefix(team_id: str, session_id: int) -> str:
    """Where a session's files live (``object_key``'s first two parts; the slash keeps 4/ from 42/)."""
    return f"{_key_part(team_id)}/{int(session_id)}/"


# --------------------------------------------------------------------------- the loop → thread pipe
