"""The attachment file store, against a real S3 API (moto's server over HTTP) and a local folder."""

from __future__ import annotations

import asyncio
import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, insert

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from storage.engine import sync_url
from storage.files import (
    MULTIPART_CHUNKSIZE,
    MULTIPART_THRESHOLD,
    AttachmentTooLarge,
    FileStore,
    FileStoreError,
    LocalFileStore,
    S3FileStore,
    StoredObject,
    build_file_store,
    keep_large_buffers_out_of_malloc_heaps,
    object_key,
    s3_transfer_config,
    safe_file_name,
)
from storage.models import attachments, coaching_sessions

MB = 1024 * 1024
BLOCK = hashlib.sha256(b"coachbot").digest() * (MB // 32)  # 1 MiB, reused: no big buffers in tests


async def generated(size: int, *, fail_after: int | None = None) -> AsyncIterator[bytes]:
    """``size`` bytes in 1 MiB chunks, produced lazily; optionally break after ``fail_after`` bytes."""
    sent = 0
    while sent < size:
        if fail_after is not None and sent >= fail_after:
            raise ConnectionResetError("the download broke")
        piece = BLOCK[: min(MB, size - sent)]
        sent += len(piece)
        yield piece
        await asyncio.sleep(0)


def sha256_of_generated(size: int) -> str:
    digest = hashlib.sha256()
    for start in range(0, size, MB):
        digest.update(BLOCK[: min(MB, size - start)])
    return digest.hexdigest()


async def read_all(store: FileStore, key: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    async for chunk in store.open_stream(key):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def multipart_uploads(client: Any, bucket: str) -> list[dict[str, Any]]:
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def object_keys(client: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --------------------------------------------------------------------------- keys


def test_object_keys_group_a_sessions_files_under_team_and_session() -> None:
    assert object_key("T0TEAM", 12, 345, "notes.txt") == "T0TEAM/12/345/notes.txt"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("C:\\Users\\coach\\plan.docx", "C_Users_coach_plan.docx"),
        ("bad\x00name\n.pdf", "bad_name.pdf"),
        ("Résumé final (v2).pdf", "Resume_final_v2.pdf"),
        ("...", "file"),
        ("", "file"),
        (".env", "env"),
    ],
)
def test_file_names_lose_separators_and_control_characters(name: str, safe: str) -> None:
    assert safe_file_name(name) == safe


def test_long_file_names_are_cut_but_keep_their_extension() -> None:
    safe = safe_file_name("a" * 500 + ".transcript.pdf")
    assert len(safe) <= 120
    assert safe.endswith(".pdf")
    assert "/" not in object_key("T", 1, 2, "x/" * 300 + "y.md").split("/", 3)[3]


# --------------------------------------------------------------------------- configuration


def test_the_transfer_config_carries_the_performance_guides_s3_tuning() -> None:
    config = s3_transfer_config()
    assert config.multipart_threshold == 50 * MB
    assert config.multipart_chunksize == 8 * MB
    assert config.max_concurrency == 10
    assert config.max_io_queue > 100  # boto3's default is 100
    assert config.num_download_attempts >= 3
    assert config.use_threads is True


def test_the_s3_client_retries_in_standard_mode_with_a_pool_for_every_part(s3_client: Any) -> None:
    config = s3_client.meta.config
    assert config.retries["mode"] in {"standard", "adaptive"}
    assert config.retries["total_max_attempts"] >= 3
    assert config.max_pool_connections >= s3_transfer_config().max_concurrency
    assert config.connect_timeout and config.read_timeout


def test_a_bucket_setting_selects_s3_and_no_bucket_a_local_folder(
    tmp_path: Path, s3_settings: Settings
) -> None:
    assert isinstance(build_file_store(s3_settings.file_store()), S3FileStore)
    local = build_file_store(Settings(attachments_dir=str(tmp_path), port=4321).file_store())
    assert isinstance(local, LocalFileStore)
    assert local.root == tmp_path.resolve()
    assert local.base_url == "http://127.0.0.1:4321"
    public = build_file_store(
        Settings(attachments_dir=str(tmp_path), public_url="https://coach.example/").file_store()
    )
    assert isinstance(public, LocalFileStore)
    assert public.base_url == "https://coach.example"


def test_streaming_to_s3_keeps_large_buffers_out_of_mallocs_heaps(s3_settings: Settings) -> None:
    """Freed 8 MB parts go back to the OS instead of piling up in per-thread heaps (glibc)."""
    build_file_store(s3_settings.file_store())
    assert keep_large_buffers_out_of_malloc_heaps() is True


# --------------------------------------------------------------------------- S3


@pytest.mark.parametrize("hint", ["exact", "unknown", "wrongly small"])
async def test_a_file_above_the_multipart_threshold_goes_up_in_8mb_parts(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str, hint: str
) -> None:
    size = MULTIPART_THRESHOLD + 10 * MB + 123
    key = object_key("T1", 1, 1, "recording.bin")
    size_hint = {"exact": size, "unknown": None, "wrongly small": 1000}[hint]

    stored = await s3_store.put_stream(
        key, generated(size), content_type="application/octet-stream", max_bytes=200 * MB, size_hint=size_hint
    )

    assert stored == StoredObject(key=key, size=size, sha256=sha256_of_generated(size))
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    parts = -(-size // MULTIPART_CHUNKSIZE)
    assert head["ETag"].strip('"').endswith(f"-{parts}")  # a multipart ETag: md5-of-md5s-N
    assert head["ContentLength"] == size
    assert s3_client.head_object(Bucket=s3_bucket, Key=key, PartNumber=1)["ContentLength"] == 8 * MB
    assert multipart_uploads(s3_client, s3_bucket) == []


async def test_a_small_file_goes_up_in_one_put(s3_store: S3FileStore, s3_client: Any, s3_bucket: str) -> None:
    stored = await s3_store.put_stream(
        "T1/1/2/notes.txt", generated(3 * MB + 5), content_type="text/plain", max_bytes=10 * MB
    )
    head = s3_client.head_object(Bucket=s3_bucket, Key=stored.key)
    assert "-" not in head["ETag"]
    assert head["ContentLength"] == stored.size == 3 * MB + 5


async def test_a_size_hint_that_overstates_still_stores_the_exact_bytes(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    stored = await s3_store.put_stream(
        "T1/1/5/a.txt", generated(MB + 9), content_type="text/plain", max_bytes=200 * MB, size_hint=100 * MB
    )

    assert (stored.size, stored.sha256) == (MB + 9, sha256_of_generated(MB + 9))
    assert s3_client.head_object(Bucket=s3_bucket, Key=stored.key)["ContentLength"] == MB + 9


async def test_objects_are_encrypted_at_rest_private_and_typed(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    s3_store.client.meta.events.register(
        "provide-client-params.s3.*", lambda params, model, **_: sent.append((model.name, dict(params)))
    )
    for key, size in (("T1/1/3/small.pdf", MB), ("T1/1/4/large.pdf", MULTIPART_THRESHOLD + MB)):
        await s3_store.put_stream(key, generated(size), content_type="application/pdf", max_bytes=100 * MB)
        head = s3_client.head_object(Bucket=s3_bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentType"] == "application/pdf"

    creates = [params for name, params in sent if name in {"PutObject", "CreateMultipartUpload"}]
    assert len(creates) == 2
    assert all(params["ServerSideEncryption"] == "AES256" for params in creates)
    assert not any("ACL" in params or "GrantRead" in params for _, params in sent)  # private: no ACL sent
    grants = s3_client.get_object_acl(Bucket=s3_bucket, Key="T1/1/3/small.pdf")["Grants"]
    assert [(g["Grantee"]["Type"], g["Permission"]) for g in grants] == [("CanonicalUser", "FULL_CONTROL")]


async def test_a_stored_file_streams_back_with_the_same_sha256(s3_store: S3FileStore) -> None:
    size = MULTIPART_THRESHOLD + 3 * MB
    stored = await s3_store.put_stream("T1/2/1/a.bin", generated(size), content_type="x/y", max_bytes=size)

    assert await read_all(s3_store, stored.key) == (size, stored.sha256)


async def test_a_stream_that_breaks_mid_upload_aborts_the_multipart_upload(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    key = "T1/3/1/broken.bin"
    with pytest.raises(FileStoreError) as raised:
        await s3_store.put_stream(
            key,
            generated(200 * MB, fail_after=MULTIPART_THRESHOLD + 9 * MB),
            content_type="application/octet-stream",
            max_bytes=500 * MB,
        )
    assert isinstance(raised.value.__cause__, ConnectionResetError)
    assert multipart_uploads(s3_client, s3_bucket) == []
    assert object_keys(s3_client, s3_bucket) == []


async def test_a_stream_over_the_limit_raises_too_large_and_leaves_nothing(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    with pytest.raises(AttachmentTooLarge):
        await s3_store.put_stream(
            "T1/3/2/huge.bin", generated(80 * MB), content_type="x/y", max_bytes=MULTIPART_THRESHOLD + 5 * MB
        )
    assert multipart_uploads(s3_client, s3_bucket) == []
    assert object_keys(s3_client, s3_bucket) == []


async def test_an_upload_cancelled_half_way_leaves_no_parts_behind(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    async def slow_after_threshold() -> AsyncIterator[bytes]:
        async for chunk in generated(MULTIPART_THRESHOLD + 20 * MB):
            yield chunk
        await asyncio.Event().wait()  # never ends: the upload is cancelled here

    task = asyncio.create_task(
        s3_store.put_stream("T1/3/3/slow.bin", slow_after_threshold(), content_type="x/y", max_bytes=10**9)
    )
    while not multipart_uploads(s3_client, s3_bucket):
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert multipart_uploads(s3_client, s3_bucket) == []
    assert object_keys(s3_client, s3_bucket) == []


async def test_an_upload_cancelled_after_the_download_ended_leaves_nothing_either(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    downloaded = asyncio.Event()

    async def download() -> AsyncIterator[bytes]:
        async for chunk in generated(MULTIPART_THRESHOLD + 30 * MB):
            yield chunk
        downloaded.set()  # the last parts are still on their way to S3

    task = asyncio.create_task(
        s3_store.put_stream("T1/3/4/late.bin", download(), content_type="x/y", max_bytes=10**9)
    )
    await downloaded.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert multipart_uploads(s3_client, s3_bucket) == []
    assert object_keys(s3_client, s3_bucket) == []


async def test_a_failing_s3_stops_the_download_instead_of_draining_it(
    moto_endpoint: str, s3_client: Any
) -> None:
    store = S3FileStore(s3_client, "no-such-bucket-here")
    closed = asyncio.Event()
    sent = 0

    async def endless_download() -> AsyncIterator[bytes]:
        nonlocal sent
        try:
            while True:
                sent += len(BLOCK)
                yield BLOCK
                await asyncio.sleep(0)
        finally:
            closed.set()

    with pytest.raises(FileStoreError):
        await store.put_stream("T1/4/1/x.bin", endless_download(), content_type="x/y", max_bytes=10**12)
    assert closed.is_set()
    assert sent < MULTIPART_THRESHOLD + 40 * MB  # the read-ahead, a few parts and the pipe; not more


async def test_the_presigned_url_serves_the_file_and_expires_in_five_minutes(s3_store: S3FileStore) -> None:
    stored = await s3_store.put_stream(
        "T1/5/1/plan.txt", generated(MB + 7), content_type="text/plain", max_bytes=MB * 2
    )

    url = await s3_store.download_url(stored.key)

    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]
    status, body = await asyncio.to_thread(http_get, url)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == stored.sha256
    short = await s3_store.download_url(stored.key, expires_in=60)
    assert parse_qs(urlsplit(short).query)["X-Amz-Expires"] == ["60"]


async def test_delete_and_delete_prefix_remove_a_sessions_files(
    s3_store: S3FileStore, s3_client: Any, s3_bucket: str
) -> None:
    for attachment in (1, 2, 3):
        await s3_store.put_stream(
            object_key("T1", 6, attachment, "f.txt"), generated(10), content_type="text/plain", max_bytes=100
        )
    await s3_store.put_stream(
        object_key("T1", 7, 1, "keep.txt"), generated(10), content_type="t/p", max_bytes=100
    )

    await s3_store.delete("T1/6/1/f.txt")
    assert await s3_store.delete_prefix("T1/6/") == 2

    assert object_keys(s3_client, s3_bucket) == ["T1/7/1/keep.txt"]


async def test_every_transfer_is_reported_with_its_size_time_and_outcome(s3_settings: Settings) -> None:
    seen: list[tuple[str, int, float, bool]] = []
    store = build_file_store(s3_settings.file_store(), on_transfer=lambda *report: seen.append(report))
    stored = await store.put_stream("T1/8/1/a.txt", generated(2 * MB), content_type="t/p", max_bytes=4 * MB)
    await read_all(store, stored.key)
    with pytest.raises(FileStoreError):
        await store.put_stream(
            "T1/8/2/b.txt", generated(2 * MB, fail_after=MB), content_type="t/p", max_bytes=4 * MB
        )
    await store.close()

    assert [(d, n, failed) for d, n, _, failed in seen] == [
        ("upload", 2 * MB, False),
        ("download", 2 * MB, False),
        ("upload", seen[2][1], True),
    ]
    assert all(seconds >= 0 for _, _, seconds, _ in seen)


class _FlakyBody:
    """A GET body that breaks (like a reset socket) after ``fail_after`` bytes."""

    def __init__(self, data: bytes, fail_after: int | None) -> None:
        self._data, self._pos, self._fail_after = data, 0, fail_after

    def read(self, amount: int) -> bytes:
        if self._fail_after is not None and self._pos >= self._fail_after:
            raise ConnectionResetError("connection reset by peer")
        piece = self._data[self._pos : self._pos + min(amount, 1000)]
        self._pos += len(piece)
        return piece

    def close(self) -> None:
        return None


class _FlakyClient:
    """get_object whose first body breaks half-way; records the Range of each GET."""

    def __init__(self, data: bytes, breaks: int) -> None:
        self.data, self.breaks, self.ranges = data, breaks, []

    def get_object(self, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:
        self.ranges.append(Range)
        start = int(Range.removeprefix("bytes=").rstrip("-")) if Range else 0
        fail_after = 2500 if len(self.ranges) <= self.breaks else None
        return {"Body": _FlakyBody(self.data[start:], fail_after)}


async def test_a_read_back_that_breaks_resumes_with_a_ranged_get() -> None:
    data = bytes(range(256)) * 40
    client = _FlakyClient(data, breaks=2)

    chunks = [chunk async for chunk in S3FileStore(client, "bucket").open_stream("k")]

    assert b"".join(chunks) == data
    assert client.ranges == [None, "bytes=3000-", "bytes=6000-"]


async def test_a_read_back_that_keeps_breaking_gives_up_with_file_store_error() -> None:
    client = _FlakyClient(bytes(100_000), breaks=100)

    with pytest.raises(FileStoreError):
        async for _ in S3FileStore(client, "bucket").open_stream("k"):
            pass
    assert len(client.ranges) == 5  # NUM_DOWNLOAD_ATTEMPTS


# --------------------------------------------------------------------------- local folder


@pytest.fixture
def local_store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files", base_url="http://127.0.0.1:9", secret="s3cret")


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_a_local_file_is_stored_whole_with_its_sha256(local_store: LocalFileStore) -> None:
    size = 5 * MB + 3
    stored = await local_store.put_stream("T1/1/1/a.bin", generated(size), content_type="x/y", max_bytes=size)

    assert stored == StoredObject("T1/1/1/a.bin", size, sha256_of_generated(size))
    assert leftovers(local_store.root) == ["T1/1/1/a.bin"]  # no temp file left next to it
    assert await read_all(local_store, stored.key) == (size, stored.sha256)


async def test_a_broken_or_too_large_local_upload_leaves_no_file(local_store: LocalFileStore) -> None:
    with pytest.raises(FileStoreError):
        await local_store.put_stream(
            "T1/1/2/b.bin", generated(5 * MB, fail_after=2 * MB), content_type="x", max_bytes=10 * MB
        )
    with pytest.raises(AttachmentTooLarge):
        await local_store.put_stream("T1/1/3/c.bin", generated(5 * MB), content_type="x", max_bytes=3 * MB)

    assert leftovers(local_store.root) == []


async def test_a_local_key_cannot_escape_the_folder(local_store: LocalFileStore) -> None:
    for key in ("../outside.txt", "/etc/passwd", "T1/../../x", "T1//x"):
        with pytest.raises(FileStoreError):
            await local_store.put_stream(key, generated(1), content_type="x", max_bytes=10)


async def test_local_delete_prefix_removes_a_sessions_files(local_store: LocalFileStore) -> None:
    for key in ("T1/6/1/a.txt", "T1/6/2/b.txt", "T1/7/1/c.txt"):
        await local_store.put_stream(key, generated(10), content_type="x", max_bytes=10)
    await local_store.delete("T1/6/1/a.txt")

    assert await local_store.delete_prefix("T1/6") == 1
    assert leftovers(local_store.root) == ["T1/7/1/c.txt"]


@pytest.fixture
def coachbot_with_local_files(settings: Settings, tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(settings.with_overrides(attachments_dir=str(tmp_path / "attachments"))) as server:
        yield server


def stored_in_a_session(database_url: str, coach: str, keys: list[str]) -> None:
    """Session 9 of ``coach`` with one stored attachment row per key (``T1/9/<id>/<name>``)."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(coaching_sessions).values(
                    id=9, team_id="T1", channel_id="C1", thread_ts="1.0", user_id=coach, is_active=True
                )
            )
            for key in keys:
                attachment_id = int(key.split("/")[2])
                conn.execute(
                    insert(attachments).values(
                        id=attachment_id, session_id=9, slack_file_id=f"F{attachment_id}", team_id="T1",
                        user_id=coach, name=key.rsplit("/", 1)[1], mime_type="text/plain",
                        storage_key=key, status="stored",
                    )
                )  # fmt: skip
    finally:
        engine.dispose()


async def test_a_signed_local_link_downloads_through_the_app_and_tampering_gets_403(
    coachbot_with_local_files: BackgroundServer, settings: Settings
) -> None:
    store = coachbot_with_local_files.runtime.files
    assert isinstance(store, LocalFileStore)
    stored = await store.put_stream(
        "T1/9/1/plan.txt", generated(MB + 1), content_type="text/plain", max_bytes=2 * MB
    )
    other = await store.put_stream("T1/9/2/other.txt", generated(10), content_type="text/plain", max_bytes=20)
    stored_in_a_session(settings.database_url, "U0COACH", [stored.key, other.key])

    url = await store.download_url(stored.key, for_user="U0COACH")

    assert url.startswith(f"{coachbot_with_local_files.url}/files/T1/9/1/plan.txt?expires=")
    status, body = await asyncio.to_thread(http_get, url)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == stored.sha256
    query = parse_qs(urlsplit(url).query)
    expires, sig = query["expires"][0], query["sig"][0]
    assert query["u"] == ["U0COACH"]
    base = f"{coachbot_with_local_files.url}/files"
    tampered = [
        url[:-1] + ("0" if url[-1] != "0" else "1"),  # signature changed
        f"{base}/{stored.key}?expires={int(expires) + 3600}&u=U0COACH&sig={sig}",  # expiry extended
        f"{base}/{other.key}?expires={expires}&u=U0COACH&sig={sig}",  # moved to another file
        f"{base}/{stored.key}?expires={expires}&u=U0OTHER&sig={sig}",  # handed to another name
        f"{base}/{stored.key}?expires={expires}&sig={sig}",  # the name removed
        f"{base}/{stored.key}",  # unsigned
        await store.download_url(stored.key, expires_in=-1, for_user="U0COACH"),  # expired
        await store.download_url(stored.key, for_user="U0OTHER"),  # made for someone not the coach
        await store.download_url(stored.key),  # made for nobody
    ]
    for link in tampered:
        assert (await asyncio.to_thread(http_get, link))[0] == 403, link


async def test_the_local_link_expiry_is_five_minutes_by_default(local_store: LocalFileStore) -> None:
    await local_store.put_stream("T1/1/9/a.txt", generated(10), content_type="x", max_bytes=10)
    url = await local_store.download_url("T1/1/9/a.txt")
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert abs(expires - (time.time() + 300)) < 5


async def test_reading_a_missing_file_is_a_file_store_error(
    s3_store: S3FileStore, local_store: LocalFileStore
) -> None:
    for store in (s3_store, local_store):
        with pytest.raises(FileStoreError):
            await read_all(store, "T1/404/1/gone.txt")
