"""Download a Slack file as a stream of chunks, telling the ways it goes wrong apart.

Slack serves ``url_private(_download)`` only with the bot token as a bearer header.
Without the ``files:read`` scope it does not answer 403: it redirects to its login
page and answers 200 with HTML, so the Content-Type is the tell.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from storage.files import AttachmentTooLarge

DEFAULT_CHUNK = 1 << 20
# A file download may legitimately take minutes; what must not happen is a silent stall.
CONNECT_TIMEOUT_S = 15
READ_STALL_TIMEOUT_S = 60


class SlackFileError(Exception):
    """Base class: the file could not be fetched from Slack."""


class SlackFileIsLoginPage(SlackFileError):
    """Slack answered with its HTML login page: the app lacks the ``files:read`` scope."""


class SlackDownloadError(SlackFileError):
    """HTTP error status, dropped connection or timeout while downloading."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


def _is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in {"text/html", "application/xhtml+xml"}


async def stream_slack_file(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    *,
    max_bytes: int,
    chunk_size: int = DEFAULT_CHUNK,
) -> AsyncIterator[bytes]:
    """Yield the file's bytes in chunks of up to ``chunk_size``.

    Raises SlackFileIsLoginPage, AttachmentTooLarge (from Content-Length before any
    byte is read, or from the running total) or SlackDownloadError. Nothing is
    buffered beyond one chunk, so the caller decides where the bytes go.
    """
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_STALL_TIMEOUT_S
    )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with session.get(url, headers=headers, allow_redirects=True, timeout=timeout) as response:
            if response.status >= 400:
                raise SlackDownloadError(f"Slack answered HTTP {response.status}", status=response.status)
            if _is_html(response.headers.get("Content-Type", "")):
                raise SlackFileIsLoginPage("Slack returned an HTML page instead of the file")
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise AttachmentTooLarge(max_bytes, declared)
            received = 0
            pending: list[bytes] = []
            pending_size = 0
            # The socket hands over whatever arrived (often 64 KB); gather ~chunk_size so the
            # consumer handles a few large pieces instead of many small ones.
            async for piece in response.content.iter_chunked(chunk_size):
                received += len(piece)
                if received > max_bytes:
                    raise AttachmentTooLarge(max_bytes, received)
                pending.append(piece)
                pending_size += len(piece)
                if pending_size >= chunk_size:
                    yield b"".join(pending) if len(pending) > 1 else pending[0]
                    pending, pending_size = [], 0
            if declared is not None and received != declared:
                raise SlackDownloadError(f"download ended after {received} of {declared} bytes")
            if pending:
                yield b"".join(pending)
    except (TimeoutError, aiohttp.ClientError) as error:
        raise SlackDownloadError(f"download failed: {type(error).__name__}") from error
