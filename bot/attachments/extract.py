"""Text out of a shared file: txt, md, csv, pdf (pypdf) and docx (python-docx).

Files arrive as a stream from the file store. They are spooled to a bounded temporary file
(memory first, disk past a megabyte) and parsed in a worker thread: pypdf and python-docx are
synchronous and CPU-heavy, and the event loop is busy streaming replies. Every limit has a
reason: a 100 MB upload must not become 100 MB of prompt material or a minute of parsing, and a
malformed or encrypted file ends in ``Extraction(text=None, reason=…)``, never a traceback.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import enum
import io
import logging
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

logger = logging.getLogger(__name__)

#: Files above this are stored but not read: nobody wants 50 MB of anything in a prompt.
MAX_INPUT_BYTES = 50 * 1024 * 1024
#: About 500k tokens: far more than one turn uses, enough to search a long transcript.
MAX_TEXT_CHARS = 2_000_000
#: A long PDF is mostly read for its first pages; each page costs pypdf real CPU time.
MAX_PDF_PAGES = 300
#: A .docx is a zip: refuse archives that unpack to more than this (zip bombs).
MAX_DOCX_UNPACKED_BYTES = 100 * 1024 * 1024
#: Spooled in memory up to here, then to a temporary file on disk.
SPOOL_MEMORY_BYTES = 1024 * 1024

_CSV_SNIFF_CHARS = 8192


class FileKind(enum.StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    CSV = "csv"
    PDF = "pdf"
    DOCX = "docx"
    IMAGE = "image"


_BY_EXTENSION: dict[str, FileKind] = {
    ".txt": FileKind.TEXT,
    ".text": FileKind.TEXT,
    ".log": FileKind.TEXT,
    ".vtt": FileKind.TEXT,
    ".srt": FileKind.TEXT,
    ".md": FileKind.MARKDOWN,
    ".markdown": FileKind.MARKDOWN,
    ".csv": FileKind.CSV,
    ".tsv": FileKind.CSV,
    ".pdf": FileKind.PDF,
    ".docx": FileKind.DOCX,
    ".png": FileKind.IMAGE,
    ".jpg": FileKind.IMAGE,
    ".jpeg": FileKind.IMAGE,
    ".gif": FileKind.IMAGE,
    ".webp": FileKind.IMAGE,
}

_BY_MIME: dict[str, FileKind] = {
    "text/plain": FileKind.TEXT,
    "text/markdown": FileKind.MARKDOWN,
    "text/x-markdown": FileKind.MARKDOWN,
    "text/csv": FileKind.CSV,
    "text/tab-separated-values": FileKind.CSV,
    "application/csv": FileKind.CSV,
    "application/pdf": FileKind.PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": FileKind.DOCX,
}


def kind_of(name: str, mime_type: str | None) -> FileKind | None:
    """What a file is, by its mime type, else its extension; None when we cannot read it.

    Slack often labels uploads ``application/octet-stream`` or ``text/plain``, so a known
    extension wins over a generic mime type.
    """
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    by_extension = _BY_EXTENSION.get(PurePath(name).suffix.lower())
    if mime.startswith("image/"):
        return FileKind.IMAGE
    if mime in _BY_MIME and (by_extension is None or mime != "text/plain"):
        return _BY_MIME[mime]
    if by_extension is not None:
        return by_extension
    if mime.startswith("text/"):
        return FileKind.TEXT
    return None


@dataclass(frozen=True)
class Extraction:
    """The text of a file, or why there is none (a short reason fit for logs)."""

    text: str | None
    reason: str | None = None
    truncated: bool = False


async def extract_stream(
    chunks: AsyncIterator[bytes],
    *,
    name: str,
    mime_type: str | None,
    max_input_bytes: int = MAX_INPUT_BYTES,
    max_chars: int = MAX_TEXT_CHARS,
    max_pages: int = MAX_PDF_PAGES,
) -> Extraction:
    """Spool ``chunks`` to a bounded temporary file and extract its text in a worker thread."""
    kind = kind_of(name, mime_type)
    if kind is None:
        return Extraction(None, "unsupported file type")
    if kind is FileKind.IMAGE:
        return Extraction(None, "images are not read as text")
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        size = 0
        async with contextlib.aclosing(chunks) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > max_input_bytes:
                    return Extraction(None, "too large to read")
                # Past SPOOL_MEMORY_BYTES this is a disk write: not on the event loop.
                await asyncio.to_thread(spool.write, chunk)
        if size == 0:
            return Extraction(None, "empty file")
        spool.seek(0)
        return await asyncio.to_thread(extract_file, spool, kind, max_chars=max_chars, max_pages=max_pages)


def extract_file(
    file: IO[bytes], kind: FileKind, *, max_chars: int = MAX_TEXT_CHARS, max_pages: int = MAX_PDF_PAGES
) -> Extraction:
    """The text of an open binary file (blocking: call it in a worker thread)."""
    if kind in (FileKind.TEXT, FileKind.MARKDOWN, FileKind.CSV):
        raw = file.read(max_chars + 1)
        truncated = len(raw) > max_chars
        text = decode_text(raw[:max_chars], complete=not truncated)
        if text is None:
            return Extraction(None, "not text")
        if kind is FileKind.CSV:
            text = render_csv(text)
        return _finish(text, max_chars, truncated)
    if kind is FileKind.PDF:
        return _pdf_text(file, max_chars, max_pages)
    if kind is FileKind.DOCX:
        return _docx_text(file, max_chars)
    return Extraction(None, "unsupported file type")


def decode_text(data: bytes, *, complete: bool = True) -> str | None:
    """Bytes as text: a BOM decides, else UTF-8, else Windows-1252 (what most non-UTF-8 exports are).

    ``complete=False`` means ``data`` was cut at a byte limit, so a trailing partial UTF-8
    character is dropped instead of condemning the whole file as non-UTF-8. None for binary data.
    """
    if data.startswith(codecs.BOM_UTF8):
        text = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data[: len(data) // 2 * 2].decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            if not complete and error.start >= len(data) - 3:
                text = data[: error.start].decode("utf-8", errors="replace")
            else:
                text = data.decode("cp1252", errors="replace")
        if "\x00" in text:
            return None
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def render_csv(text: str) -> str:
    """A CSV as lines the model (and the search) can read: each row names its columns.

    ``name: Ada; role: lead`` keeps a row meaningful when it lands in a chunk without its header.
    """
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:_CSV_SNIFF_CHARS], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error:
        return text  # malformed (e.g. a field over the csv module's limit): the raw text still reads
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    header = [cell.strip() or f"column {i + 1}" for i, cell in enumerate(rows[0])]
    lines = ["Columns: " + ", ".join(header)]
    for row in rows[1:]:
        cells = []
        for i, cell in enumerate(row):
            value = cell.strip()
            if value:
                label = header[i] if i < len(header) else f"column {i + 1}"
                cells.append(f"{label}: {value}")
        lines.append("; ".join(cells))
    return "\n".join(lines)


def _finish(text: str, max_chars: int, truncated: bool) -> Extraction:
    text = text.strip()
    if len(text) > max_chars:
        text, truncated = text[:max_chars], True
    if not text:
        return Extraction(None, "no text in the file")
    return Extraction(text, truncated=truncated)


def _pdf_text(file: IO[bytes], max_chars: int, max_pages: int) -> Extraction:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(file)
        if reader.is_encrypted:
            try:
                decrypted = reader.decrypt("")  # many "protected" PDFs only restrict printing
            except (PyPdfError, NotImplementedError):
                decrypted = 0
            if not decrypted:
                return Extraction(None, "the PDF is password-protected")
        pages: list[str] = []
        length = 0
        truncated = False
        for number, page in enumerate(reader.pages):
            if number >= max_pages or length >= max_chars:
                truncated = True
                break
            text = (page.extract_text() or "").strip()
            if text:
                pages.append(text)
                length += len(text) + 2
    # pypdf raises a wide range of errors on malformed files (its own, but also ValueError,
    # KeyError, TypeError, RecursionError…); whatever it is, the file is unreadable, not our bug.
    except Exception as error:
        logger.info("PDF unreadable (%s)", type(error).__name__)
        return Extraction(None, "the PDF could not be read")
    if not pages:
        return Extraction(None, "the PDF has no text (a scan?)")
    return _finish("\n\n".join(pages), max_chars, truncated)


def _docx_text(file: IO[bytes], max_chars: int) -> Extraction:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_DOCX_UNPACKED_BYTES:
            return Extraction(None, "the document unpacks too large")
        file.seek(0)
        document = docx.Document(file)  # type: ignore[arg-type]
        blocks: list[str] = []
        length = 0
        truncated = False
        for block in document.iter_inner_content():
            if length >= max_chars:
                truncated = True
                break
            if isinstance(block, Paragraph):
                text = block.text.strip()
            elif isinstance(block, Table):
                text = "\n".join(
                    " | ".join(cell.text.strip() for cell in row.cells) for row in block.rows
                ).strip()
            else:
                continue
            if text:
                blocks.append(text)
                length += len(text) + 2
    # Not a zip, not a Word package, or broken XML inside: python-docx and zipfile raise many kinds.
    except Exception as error:
        logger.info("Word document unreadable (%s)", type(error).__name__)
        return Extraction(None, "the Word document could not be read")
    return _finish("\n\n".join(blocks), max_chars, truncated)
