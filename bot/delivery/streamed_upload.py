"""Files on disk shared in one Slack message, their bytes streamed from disk, never held whole.

slack_sdk's ``files_upload_v2`` reads every file whole into memory before POSTing any of them.
Measured on the data export (DataExport.deliver against the emulator, SQLite, tracemalloc peak):
20,000 messages (11.5 + 9.5 MB of files) peaked at 40 MB, 100,000 messages (57 + 48 MB) at
216 MB; it grows with the coach's history. This is the same flow the library runs underneath,
with the bodies streamed: ``files.getUploadURLExternal`` (filename, length) per file, a POST of
the file object to each ``upload_url`` (aiohttp reads it in 64 KiB pieces) through the client's
own session, proxy and SSL settings, then one ``files.completeUploadExternal`` that shares all of
them in one message. After it the same export peaks at ~2 MB, whatever its size.

Failures keep slack_sdk's types: Slack's refusals are ``SlackApiError`` (from the client), an
upload URL that answers non-200 ("a non-200 response indicates a failure") or cuts the connection
twice is ``UploadFailed``, a ``SlackRequestError`` as the library raises there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from slack_sdk.errors import SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.internal_utils import MAX_V2_FILE_SIZE

# A dropped connection is retried once from the first byte, as the client's default
# connection-error retry handler does for files_upload_v2's POST.
UPLOAD_ATTEMPTS = 2


class UploadFailed(SlackRequestError):
    """The upload URL refused the bytes (``status``) or the connection broke (``status`` None)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LocalFile:
    """A file to share: where its bytes are, the name Slack shows, and its title."""

    path: Path
    filename: str
    title: str


class SharingWithdrawn(Exception):
    """``still_wanted`` said no once the bytes were up: nothing was shared (Slack expires the uploads)."""


async def share_files(
    client: AsyncWebClient,
    *,
    channel: str,
    initial_comment: str,
    files: Sequence[LocalFile],
    still_wanted: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncSlackResponse:
    """Upload ``files`` and share them in ``channel`` as one message; Slack's completion answer.

    ``still_wanted`` is asked after the uploads, just before the one call that shares them: what
    changed while the bytes travelled (an erasure) can still stop the message.
    """
    reserved: list[tuple[LocalFile, str, str]] = []
    for file in files:
        length = file.path.stat().st_size
        if length > MAX_V2_FILE_SIZE:
            raise SlackRequestError(f"Maximum upload file size is {MAX_V2_FILE_SIZE} bytes")
        answer = await client.files_getUploadURLExternal(filename=file.filename, length=length)
        reserved.append((file, str(answer["upload_url"]), str(answer["file_id"])))
    for file, upload_url, _ in reserved:
        await _post_file(client, upload_url, file.path)
    if still_wanted is not None and not await still_wanted():
        raise SharingWithdrawn("withdrawn before sharing")
    return await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": file.title} for file, _, file_id in reserved],
        channel_id=channel,
        initial_comment=initial_comment,
    )


async def _post_file(client: AsyncWebClient, url: str, path: Path) -> None:
    """POST the file's bytes to its upload URL (the URL is the credential: no token goes)."""
    session = client.session if client.session is not None and not client.session.closed else None
    owned = session is None
    if session is None:
        session = aiohttp.ClientSession(trust_env=client.trust_env_in_session)
    # No total limit: a large file takes as long as it takes; a stalled peer does not.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=client.timeout, sock_read=client.timeout)
    try:
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                with path.open("rb") as body:
                    async with session.post(
                        url,
                        data=body,
                        headers={"Content-Type": "application/octet-stream"},
                        proxy=client.proxy,
                        ssl=client.ssl,
                        timeout=timeout,
                    ) as response:
                        await response.read()
                        if response.status != 200:
                            raise UploadFailed(
                                f"The upload URL answered HTTP {response.status}", status=response.status
                            )
                return
            except aiohttp.ClientConnectionError as error:
                if attempt == UPLOAD_ATTEMPTS:
                    raise UploadFailed(f"The upload was cut short ({type(error).__name__})") from error
    finally:
        if owned:
            await session.close()
