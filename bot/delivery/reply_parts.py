"""Where a reply too long for one Slack message continues in the next.

A part ends on whitespace, preferably between paragraphs, then between lines,
then between words; never inside a list item when it can be helped, and inside
a ``` code block only when the block itself is too long, in which case the part
closes the fence and the next part reopens it with the same info string. The
text is streamed, so a part ends on text it already sent: the break is searched
in the new text, up to the part's size and, when no good break is there, up to
Slack's hard limit beyond it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

FENCE = "```"
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")


class _Kind(enum.IntEnum):
    """Break kinds, best first."""

    PARAGRAPH = 0
    LINE = 1
    WORD = 2
    CODE_LINE = 3  # inside a code block: the fence is closed and reopened
    LIST_WORD = 4  # between two words of one list item
    CODE_WORD = 5  # inside a code line (or just after its opening fence)


GOOD_KINDS = (_Kind.PARAGRAPH, _Kind.LINE, _Kind.WORD, _Kind.CODE_LINE)


@dataclass(frozen=True)
class PartBreak:
    """The part ends after ``at`` characters of the new text plus ``close``; the next begins ``reopen``."""

    at: int
    close: str = ""
    reopen: str = ""


@dataclass(frozen=True)
class _Candidate:
    at: int  # in the combined text (part so far + new text)
    kind: _Kind
    fence_info: str | None  # the open code block's info string, when the break is inside one


def find_break(part: str, text: str, *, room: int, hard_room: int, final: bool) -> PartBreak | None:
    """Where ``text`` (following ``part``, the current message so far) must end this message.

    ``room`` is what the message may still take by size, ``hard_room`` what Slack still allows.
    Returns None when the message is not full yet, or when no good break has arrived yet and more
    text is coming (the caller holds the text back until it has).
    """
    if len(text) <= room:
        return None
    base = len(part)
    combined = part + text[: hard_room + 1]
    candidates = [c for c in _candidates(combined) if base < c.at <= base + hard_room]
    floor = base + room - (base + room) // 2  # a part is at least half full before it ends early
    within = [c for c in candidates if floor <= c.at <= base + room]
    for kind in GOOD_KINDS:
        best = [c for c in within if c.kind is kind]
        if best:
            return _break(best[-1], base)
    beyond = [c for c in candidates if c.at > base + room and c.kind in GOOD_KINDS]
    if beyond:
        return _break(beyond[0], base)
    if not final and len(text) <= hard_room:
        return None  # wait: the break may be in text not written yet
    fallback = sorted(candidates, key=lambda c: (c.kind, -c.at))
    if fallback:
        return _break(fallback[0], base)
    return PartBreak(at=room)


def _break(candidate: _Candidate, base: int) -> PartBreak:
    if candidate.fence_info is None:
        return PartBreak(at=candidate.at - base)
    close = FENCE if candidate.kind is _Kind.CODE_LINE else "\n" + FENCE
    return PartBreak(at=candidate.at - base, close=close, reopen=f"{FENCE}{candidate.fence_info}\n")


def _candidates(text: str) -> list[_Candidate]:
    """Every place ``text`` could be cut, with its kind; positions are after the whitespace."""
    found: list[_Candidate] = []
    fence_info: str | None = None  # set while inside a code block
    in_list = False
    start = 0
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        end = start + len(line)
        stripped = line.strip()
        is_fence = stripped.startswith(FENCE)
        if fence_info is None and not is_fence:
            if _LIST_ITEM.match(line):
                in_list = True
            elif stripped and not line[:1].isspace():
                in_list = False
        in_item = in_list and fence_info is None and not is_fence
        for offset, char in enumerate(line.rstrip("\n")):
            if char in " \t" and offset + 1 < len(line):
                if fence_info is not None:
                    kind = _Kind.CODE_WORD
                else:
                    kind = _Kind.LIST_WORD if in_item else _Kind.WORD
                found.append(_Candidate(start + offset + 1, kind, fence_info))
        opens = is_fence and fence_info is None
        if is_fence:
            fence_info = stripped[len(FENCE) :].strip() if opens else None
        if line.endswith("\n"):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            kind = _Kind.CODE_WORD if opens else _line_kind(stripped, following, in_list, fence_info)
            found.append(_Candidate(end, kind, fence_info))
        start = end
    return found


def _line_kind(stripped: str, following: str, in_list: bool, fence_info: str | None) -> _Kind:
    if fence_info is not None:
        return _Kind.CODE_LINE
    if in_list and following[:1].isspace() and following.strip():
        return _Kind.LIST_WORD  # the item goes on on the next, indented line
    return _Kind.PARAGRAPH if not stripped else _Kind.LINE
