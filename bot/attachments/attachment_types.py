"""Which shared files coachbot takes, decided from Slack's metadata before a byte is downloaded.

The allow-list is what the coach can actually read: text the reader extracts (txt, md, csv, pdf,
docx) and images a vision model can look at (png, jpeg, gif, webp). Anything else would sit in
storage unread, so it is turned away with a reply that says what is accepted.

A file matches on Slack's ``filetype`` (its own detection, e.g. "markdown" for a .md that the
browser called text/plain) or its ``mimetype``; the stored type is the kind's canonical MIME
type, so the reader and the download link see one spelling per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FileKind:
    """One accepted kind of file."""

    label: str  # what the coach is told ("pdf")
    mime_type: str  # stored, and sent as the object's Content-Type
    filetypes: frozenset[str]  # Slack's ``filetype`` values
    mime_types: frozenset[str]  # ``mimetype`` values (parameters stripped)
    is_image: bool = False


def _kind(
    label: str, mime: str, filetypes: set[str], extra_mimes: tuple[str, ...] = (), *, is_image: bool = False
) -> FileKind:
    return FileKind(label, mime, frozenset(filetypes), frozenset({mime, *extra_mimes}), is_image)


SUPPORTED_KINDS: tuple[FileKind, ...] = (
    _kind("txt", "text/plain", {"text", "txt"}),
    _kind("md", "text/markdown", {"markdown", "md"}, ("text/x-markdown",)),
    _kind("csv", "text/csv", {"csv"}, ("application/csv", "text/comma-separated-values")),
    _kind("pdf", "application/pdf", {"pdf"}),
    _kind(
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        {"docx"},
    ),
    _kind("png", "image/png", {"png"}, is_image=True),
    _kind("jpeg", "image/jpeg", {"jpg", "jpeg"}, ("image/jpg", "image/pjpeg"), is_image=True),
    _kind("gif", "image/gif", {"gif"}, is_image=True),
    _kind("webp", "image/webp", {"webp"}, is_image=True),
)

#: For replies: "txt, md, csv, pdf, docx, png, jpeg, gif or webp".
SUPPORTED_LABELS = ", ".join(kind.label for kind in SUPPORTED_KINDS[:-1]) + f" or {SUPPORTED_KINDS[-1].label}"

_BY_FILETYPE = {filetype: kind for kind in SUPPORTED_KINDS for filetype in kind.filetypes}
_BY_MIME = {mime: kind for kind in SUPPORTED_KINDS for mime in kind.mime_types}


def kind_of(file: Mapping[str, Any]) -> FileKind | None:
    """The accepted kind of a Slack file object, or None when coachbot does not take it.

    Slack's ``filetype`` wins: it is Slack's own sniffing, where ``mimetype`` is what the
    uploading client claimed (often text/plain for .md, or application/octet-stream).
    """
    filetype = str(file.get("filetype") or "").strip().lower()
    if filetype in _BY_FILETYPE:
        return _BY_FILETYPE[filetype]
    mime = str(file.get("mimetype") or "").split(";", 1)[0].strip().lower()
    if filetype in ("", "auto", "binary") or filetype == mime.rpartition("/")[2]:
        return _BY_MIME.get(mime)
    return None  # Slack recognised it as something else (e.g. "zip" sent as text/plain)


def human_size(size: int | None) -> str:
    """1536 → "1.5 KB"; bytes in binary units, one decimal below 10."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{size} byte" if size == 1 else f"{size} bytes"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
