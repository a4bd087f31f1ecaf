"""The text of the ``files`` listing: a session's attachments, newest first, with fresh links.

Pure formatting, so it is tested without Slack. Links are presigned per request by the caller
and never cached: a cached listing must not hand out a link that has already expired.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.attachments.attachment_types import human_size
from storage.attachments import AttachmentRecord

#: A Slack message holds 40,000 characters and a presigned link is ~500; the newest 40 fit.
MAX_LISTED = 40

COMMAND = "files"
EMPTY_LISTING_TEXT = "There are no files in this session yet. Drop one into the thread and I'll keep it here."

_REJECTED = {
    "empty": "not saved: the file was empty",
    "too_large": "not saved: too large",
    "unsupported": "not saved: a type I can't read",
    "login_page": "not saved: Slack wouldn't let me download it",
    "unavailable": "not saved: not downloadable from Slack",
}


def is_files_command(text: str) -> bool:
    """``files`` alone, in any case, is the listing command (never a coaching message)."""
    return text.strip().lower() == COMMAND


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters, so a file name can't become a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _status(row: AttachmentRecord, max_attempts: int) -> str:
    if row.status == "stored":
        return "saved"
    if row.status == "pending":
        return "saving…"
    if row.status == "failed":
        if row.attempts >= max_attempts:
            return "not saved: please share it again"
        return "not saved yet: I'll try again"
    return _REJECTED.get(row.error or "", "not saved")


def format_listing(
    rows: Sequence[AttachmentRecord],
    links: Mapping[int, str],
    *,
    max_attempts: int,
    link_minutes: int,
) -> str:
    """One line per file: name (a link when stored), size, status."""
    if not rows:
        return EMPTY_LISTING_TEXT
    lines = [f"*Files in this session* ({len(rows)})"]
    for row in rows[:MAX_LISTED]:
        name = mrkdwn_escape(row.name)
        link = links.get(row.id)
        shown = f"<{link}|{name}>" if link else name
        lines.append(f"• {shown} · {human_size(row.size)} · {_status(row, max_attempts)}")
    if len(rows) > MAX_LISTED:
        lines.append(f"…and {len(rows) - MAX_LISTED} older files.")
    if links:
        lines.append(f"_Links work for {link_minutes} minutes; type `files` again for fresh ones._")
    return "\n".join(lines)
