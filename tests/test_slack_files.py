"""Downloading a Slack file as a stream, against the devkit Slack emulator over HTTP (and on into S3)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.delivery.slack_files import SlackDownloadError, SlackFileIsLoginPage, stream_slack_file
from devkit._server import BackgroundServer
from devkit.ports import free_port
from devkit.slack_emulator import SlackEmulator
from storage.files import AttachmentTooLarge, FileStoreError, S3FileStore

MB = 1024 * 1024


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(http: aiohttp.ClientSession, url: str, token: str, **options: int) -> list[bytes]:
    options.setdefault("max_bytes", 100 * MB)
    return [chunk async for chunk in stream_slack_file(http, url, token, **options)]


async def test_the_file_streams_with_the_bot_token_in_chunks_of_at_most_chunk_size(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("notes.bin", size=5 * MB + 3, mimetype="application/octet-stream")

    chunks = await fetch(http, shared["url_private_download"], slack_emulator.bot_token, chunk_size=MB)

    assert sum(map(len, chunks)) == 5 * MB + 3
    assert max(map(len, chunks)) <= 2 * MB  # gathered to about chunk_size, never the whole file
    assert len(chunks) >= 5
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == slack_emulator.sha256_of(shared["id"])
    assert slack_emulator.file_downloads(shared["id"]) == 1


async def test_small_content_arrives_exactly(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("plan.md", content=b"# Goals\n- ship it\n", mimetype="text/markdown")

    assert (
        b"".join(await fetch(http, shared["url_private"], slack_emulator.bot_token))
        == b"# Goals\n- ship it\n"
    )


async def test_a_wrong_token_lands_on_the_login_page(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("notes.txt", content=b"secret")

    with pytest.raises(SlackFileIsLoginPage):
        await fetch(http, shared["url_private_download"], "xoxb-not-the-bot")
    assert slack_emulator.file_downloads(shared["id"]) == 0


async def test_html_instead_of_the_file_means_files_read_is_missing(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("notes.txt", content=b"x", serve_login_page=True)

    with pytest.raises(SlackFileIsLoginPage):
        await fetch(http, shared["url_private_download"], slack_emulator.bot_token)


async def test_a_declared_length_over_the_limit_fails_before_reading_the_body(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("huge.bin", size=1024 * MB)  # generated lazily: costs no memory

    received = []
    with pytest.raises(AttachmentTooLarge):
        async for chunk in stream_slack_file(
            http, shared["url_private_download"], slack_emulator.bot_token, max_bytes=10 * MB
        ):
            received.append(chunk)
    assert received == []


@pytest.fixture
def undeclared_length_server() -> Iterator[str]:
    """A file server that sends chunked bodies without Content-Length (Slack may, behind a CDN)."""

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.query.get("mb", "8"))):
            await response.write(b"z" * MB)
        await response.write_eof()
        return response

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_get("/file", chunked)
        return app

    server = BackgroundServer(make_app)
    server.start()
    yield f"{server.origin}/file"
    server.stop()


async def test_a_running_total_over_the_limit_fails_without_a_declared_length(
    undeclared_length_server: str, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(AttachmentTooLarge):
        await fetch(http, f"{undeclared_length_server}?mb=8", "xoxb-any", max_bytes=3 * MB)
    assert (
        sum(map(len, await fetch(http, f"{undeclared_length_server}?mb=2", "xoxb-any", max_bytes=3 * MB)))
        == 2 * MB
    )


async def test_a_connection_dropped_mid_file_is_a_download_error(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("cut.bin", size=6 * MB, fail_download=True)

    with pytest.raises(SlackDownloadError):
        await fetch(http, shared["url_private_download"], slack_emulator.bot_token)


async def test_a_server_error_is_a_download_error_with_its_status(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    shared = slack_emulator.add_file("oops.bin", size=MB, fail_download="500")

    with pytest.raises(SlackDownloadError) as raised:
        await fetch(http, shared["url_private_download"], slack_emulator.bot_token)
    assert raised.value.status == 500


async def test_an_unknown_file_is_a_download_error(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(SlackDownloadError) as raised:
        await fetch(http, f"{slack_emulator.origin}/files-pri/F0NOPE/x.txt", slack_emulator.bot_token)
    assert raised.value.status == 404


async def test_nobody_listening_is_a_download_error(http: aiohttp.ClientSession) -> None:
    with pytest.raises(SlackDownloadError):
        await fetch(http, f"http://127.0.0.1:{free_port()}/files-pri/F1/x.txt", "xoxb-any")


async def test_a_slack_download_that_breaks_mid_file_leaves_nothing_in_s3(
    slack_emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    s3_store: S3FileStore,
    s3_client: Any,
    s3_bucket: str,
) -> None:
    shared = slack_emulator.add_file("talk.bin", size=120 * MB, fail_download=True)  # cut at 60 MB: multipart
    chunks = stream_slack_file(
        http, shared["url_private_download"], slack_emulator.bot_token, max_bytes=200 * MB
    )

    with pytest.raises(FileStoreError) as raised:
        await s3_store.put_stream("T1/1/1/talk.bin", chunks, content_type="x/y", max_bytes=200 * MB)

    assert isinstance(raised.value.__cause__, SlackDownloadError)
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


async def test_a_slack_file_streams_into_s3_with_slacks_sha256(
    slack_emulator: SlackEmulator, http: aiohttp.ClientSession, s3_store: S3FileStore
) -> None:
    shared = slack_emulator.add_file("talk.bin", size=55 * MB + 1)
    chunks = stream_slack_file(
        http, shared["url_private_download"], slack_emulator.bot_token, max_bytes=100 * MB
    )

    stored = await s3_store.put_stream(
        "T1/1/2/talk.bin", chunks, content_type="x/y", max_bytes=100 * MB, size_hint=shared["size"]
    )

    assert (stored.size, stored.sha256) == (55 * MB + 1, slack_emulator.sha256_of(shared["id"]))
