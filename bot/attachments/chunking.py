"""Split a file's text into search-sized chunks on paragraph and sentence boundaries.

A chunk is what the full-text search ranks and what the turn quotes, so it should hold one
idea: about 200–400 tokens (at ``bot.conversation.prompt``'s four characters a token). Neighbouring chunks
overlap by a sentence or so, so a passage cut at a boundary is still found whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
TARGET_CHARS = 300 * CHARS_PER_TOKEN  # close a chunk once it is this long…
MAX_CHARS = 400 * CHARS_PER_TOKEN  # …and never let one grow past this
OVERLAP_CHARS = 40 * CHARS_PER_TOKEN  # carried over from the end of the previous chunk

_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n")


@dataclass(frozen=True)
class Chunk:
    ordinal: int  # 0, 1, 2… in the file's order
    text: str


def chunk_text(
    text: str,
    *,
    target_chars: int = TARGET_CHARS,
    max_chars: int = MAX_CHARS,
    overlap_chars: int = OVERLAP_CHARS,
) -> list[Chunk]:
    """The chunks of ``text``, in order; none for blank text."""
    chunks: list[Chunk] = []
    current: list[str] = []
    length = 0
    for unit in _units(text, max_chars):
        extra = len(unit) + (2 if current else 0)
        if current and length + extra > max_chars:
            chunks.append(Chunk(len(chunks), "\n\n".join(current)))
            current, length = _overlap(current[-1], overlap_chars, len(unit), max_chars)
            extra = len(unit) + (2 if current else 0)
        current.append(unit)
        length += extra
        if length >= target_chars:
            chunks.append(Chunk(len(chunks), "\n\n".join(current)))
            current, length = _overlap(current[-1], overlap_chars, 0, max_chars)
    if current and (not chunks or not _is_only_overlap(current, chunks[-1])):
        chunks.append(Chunk(len(chunks), "\n\n".join(current)))
    return chunks


def _units(text: str, max_chars: int) -> Iterator[str]:
    """Paragraphs; a paragraph too long for one chunk comes as its sentences (or lines)."""
    for paragraph in _PARAGRAPHS.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            if sentence:
                yield from _hard_split(sentence, max_chars)


def _hard_split(sentence: str, max_chars: int) -> Iterator[str]:
    """A "sentence" over ``max_chars`` (a table row, a wall of text) cut at spaces."""
    while len(sentence) > max_chars:
        cut = sentence.rfind(" ", max_chars // 2, max_chars)
        if cut <= 0:
            cut = max_chars
        yield sentence[:cut].strip()
        sentence = sentence[cut:].strip()
    if sentence:
        yield sentence


def _overlap(last: str, overlap_chars: int, next_len: int, max_chars: int) -> tuple[list[str], int]:
    """The start of the next chunk: the tail of the previous one, if it leaves room for ``next_len``."""
    if overlap_chars <= 0:
        return [], 0
    tail = last[-overlap_chars:]
    if len(tail) < len(last):
        # Start at a sentence, else a word, so the overlap never begins mid-word.
        sentence = re.search(r"(?<=[.!?…])\s+", tail)
        space = tail.find(" ")
        if sentence:
            tail = tail[sentence.end() :]
        elif space >= 0:
            tail = tail[space + 1 :]
    tail = tail.strip()
    if not tail or len(tail) + 2 + next_len > max_chars:
        return [], 0
    return [tail], len(tail)


def _is_only_overlap(current: list[str], previous: Chunk) -> bool:
    return len(current) == 1 and previous.text.endswith(current[0])
