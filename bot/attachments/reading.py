"""The coach reads attachments: index a stored file's text, and give each turn what it needs.

Two moments:

- **Intake** (``index_attachment``), once per stored file: read it back from the file store,
  extract its text in a worker thread, chunk it and store the chunks under the full-text index.
  Slow work, off the turn's path; a file that cannot be read is logged and skipped.
- **A turn** (``context_for`` and ``images_for``): the chunks most relevant to the coach's
  message within a token budget, and this turn's images as ``data:`` URLs. The turn only asks
  when the session has attachments, so sessions without files pay nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.attachments.chunking import chunk_text
from bot.attachments.extract import FileKind, extract_stream, kind_of
from bot.conversation.prompt import ImageInput, Reference, estimate_tokens, reference_label
from storage.attachment_text import AttachmentTextIndex
from storage.files import FileStore, FileStoreError

logger = logging.getLogger(__name__)

#: Extractions at once: each holds a worker thread and CPU, and the event loop needs the GIL too.
MAX_CONCURRENT_EXTRACTIONS = 2
#: Images larger than this are not sent (OpenAI takes up to 20 MB, but every byte is base64 in the request).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: Images per turn: each costs up to ~1,000 tokens and uploads its bytes with the request.
MAX_IMAGES_PER_TURN = 4
#: A turn searches for a few more chunks than the budget can hold, so small ones can fill the gaps.
MAX_CHUNKS_SEARCHED = 40
_TOKENS_PER_CHUNK_GUESS = 250

_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class StoredFile(Protocol):
    """A stored attachment as the turn knows it (``storage.attachments.AttachmentRecord`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def mime_type(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def storage_key(self) -> str | None: ...


def image_type(data: bytes) -> str | None:
    """The image's real type from its first bytes (never trust the uploader's label), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, mime_type in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime_type
    return None


class AttachmentReader:
    """Indexes attachments' text and answers a turn's "what in the files is relevant?"."""

    def __init__(self, index: AttachmentTextIndex, *, files: FileStore | None = None) -> None:
        self._index = index
        self._files = files
        self._extracting = asyncio.Semaphore(MAX_CONCURRENT_EXTRACTIONS)

    async def index_attachment(
        self,
        *,
        attachment_id: int,
        session_id: int,
        name: str,
        mime_type: str,
        store: FileStore,
        key: str,
    ) -> int:
        """Read a stored file back and index its text; returns the number of chunks (0: nothing to read).

        Never raises for a bad file, a store or database failure: the file stays stored and
        listed, the coach just cannot search it. Images are not indexed (they go to the model
        as images, in the turn that shares them).
        """
        kind = kind_of(name, mime_type)
        if kind is None or kind is FileKind.IMAGE:
            return 0
        try:
            async with self._extracting:
                extraction = await extract_stream(store.open_stream(key), name=name, mime_type=mime_type)
            if extraction.text is None:
                logger.info("Attachment %s not indexed: %s", attachment_id, extraction.reason)
                return 0
            chunks = await asyncio.to_thread(chunk_text, extraction.text)
            count = await self._index.add_chunks(attachment_id, session_id, chunks)
        except (FileStoreError, OSError, SQLAlchemyError) as error:
            logger.warning("Attachment %s not indexed (error=%s)", attachment_id, type(error).__name__)
            return 0
        logger.info(
            "Attachment %s indexed: %d chunks%s",
            attachment_id,
            count,
            " (text cut at the size limit)" if extraction.truncated else "",
        )
        return count

    async def context_for(self, session_id: int, query: str, token_budget: int) -> list[Reference]:
        """The session's excerpts most relevant to ``query``, best first, within ``token_budget``.

        The budget counts each excerpt with its file label, as ``bot.conversation.prompt`` will send it.
        """
        if token_budget <= 0:
            return []
        limit = min(MAX_CHUNKS_SEARCHED, token_budget // _TOKENS_PER_CHUNK_GUESS + 2)
        hits = await self._index.search(session_id, query, limit)
        references: list[Reference] = []
        remaining = token_budget - estimate_tokens("")  # the intro line is small; count its framing
        for hit in hits:
            cost = estimate_tokens(f"{reference_label(hit.name)}\n{hit.text}")
            if cost > remaining:
                continue  # a smaller, lower-ranked excerpt may still fit
            references.append(Reference(name=hit.name, text=hit.text))
            remaining -= cost
        return references

    async def images_for(self, files: Sequence[StoredFile]) -> list[ImageInput]:
        """This turn's images, read back from the file store, as ``data:`` URLs for the model.

        Skipped (and logged): non-images, files over ``MAX_IMAGE_BYTES``, bytes that are not a
        png/jpeg/gif/webp whatever their label says, and files the store cannot return.
        """
        if self._files is None:
            return []
        images: list[ImageInput] = []
        for file in files:
            if len(images) == MAX_IMAGES_PER_TURN:
                break
            if kind_of(file.name, file.mime_type) is not FileKind.IMAGE or not file.storage_key:
                continue
            if file.size is not None and file.size > MAX_IMAGE_BYTES:
                logger.info("Image not sent to the model: over %d bytes", MAX_IMAGE_BYTES)
                continue
            try:
                data = await _read_at_most(self._files.open_stream(file.storage_key), MAX_IMAGE_BYTES)
            except (FileStoreError, OSError) as error:
                logger.warning("Image not read back from the store (error=%s)", type(error).__name__)
                continue
            mime_type = image_type(data) if data is not None else None
            if data is None or mime_type is None:
                logger.info("Image not sent to the model: too large or not a png/jpeg/gif/webp")
                continue
            encoded = await asyncio.to_thread(base64.b64encode, data)
            images.append(ImageInput(name=file.name, data_url=f"data:{mime_type};base64,{encoded.decode()}"))
        return images


async def _read_at_most(chunks: AsyncIterator[bytes], limit: int) -> bytes | None:
    """The whole stream, or None as soon as it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    async with contextlib.aclosing(chunks) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
    return b"".join(parts)
