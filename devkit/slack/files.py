"""Files: shared files served at ``url_private`` to the bot token, and the files_upload_v2 flow.

files_upload_v2 as its method pages say: files.getUploadURLExternal needs ``filename`` and
``length`` (``missing_argument`` when the length is 0), ``alt_txt`` of at most 1,000 characters
(``alt_txt_too_large``) and a snippet of at most 1 MB (``snippet_too_large``); the bytes are
POSTed to the upload URL; files.completeUploadExternal needs ``files`` (an array of ids with
optional titles), refuses a file whose bytes never arrived or that another workspace reserved
(``file_not_found``) and a channel the workspace can't post in (``invalid_channel``), takes
``thread_ts`` with one channel only, can be called once per upload, and shares each file with one
bot message per channel. The upload URL answers 200 only when the body holds exactly ``length``
bytes ("a non-200 response indicates a failure"), 404 once the upload is completed or expired
(``expire_uploads``: never completed, Slack aborts it), and honours ``fail("upload.v1", …)``
(``status=500``, or ``error="drop"`` to cut the connection). The bytes go to a temporary file as
they arrive, so a large upload costs the emulator no memory (and a test measuring the app's).
"""

from __future__ import annotations

import hashlib
import itertools
import mimetypes
import secrets
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web

from devkit.slack.arguments import check_message_length, json_list, thread_of
from devkit.slack.core import EmulatorCore
from devkit.slack.records import RecordedCall, SlackError

# Generated file bytes repeat a 64 KiB pseudo-random block derived from the file id, served
# 1 MiB at a time: a 1 GB file costs one block of memory and its sha256 is reproducible.
_PATTERN_BLOCK = 64 * 1024
_SERVE_CHUNK = 1024 * 1024
MAX_ALT_TXT_CHARS = 1000  # files.getUploadURLExternal: alt_txt_too_large beyond it
MAX_SNIPPET_BYTES = 1024 * 1024  # snippet_too_large: snippets are limited to 1 MB
_KEEP_IN_MEMORY = 1024 * 1024  # uploaded bytes up to this stay in memory, larger ones on disk

LOGIN_PAGE_HTML = (
    "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head>"
    '<body><h1>Sign in to devkit</h1><form action="/signin" method="post">'
    '<input name="email"><button>Sign in</button></form></body></html>'
)


@dataclass
class _Upload:
    """A file_upload_v2 upload between files.getUploadURLExternal and files.completeUploadExternal."""

    name: str
    length: int
    team_id: str
    content: bytes | None = None
    path: Path | None = None  # the bytes, when too large to keep in memory

    @property
    def received(self) -> bool:
        return self.content is not None or self.path is not None


@dataclass
class _File:
    """A file shared in the workspace: its Slack object and how its download behaves."""

    info: dict[str, Any]
    content: bytes | None
    size: int
    path: Path | None = None
    serve_login_page: bool = False
    fail_download: bool | str = False
    downloads: int = 0
    _chunk: bytes | None = None

    def chunk(self) -> bytes:
        """One serving chunk of the generated pattern (built once, reused for every chunk)."""
        if self._chunk is None:
            seed = self.info["id"].encode()
            block = b"".join(
                hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(_PATTERN_BLOCK // 32)
            )
            self._chunk = block * (_SERVE_CHUNK // _PATTERN_BLOCK)
        return self._chunk

    def pieces(self, limit: int | None = None) -> Iterator[bytes]:
        """The file's bytes, lazily, up to ``limit`` bytes."""
        end = self.size if limit is None else min(limit, self.size)
        if self.path is not None:
            with self.path.open("rb") as stored:
                while (sent := stored.tell()) < end:
                    yield stored.read(min(_SERVE_CHUNK, end - sent))
            return
        if self.content is not None:
            for start in range(0, end, _SERVE_CHUNK):
                yield self.content[start : min(start + _SERVE_CHUNK, end)]
            return
        chunk, sent = self.chunk(), 0
        while sent < end:
            piece = chunk if end - sent >= len(chunk) else chunk[: end - sent]
            sent += len(piece)
            yield piece


class FilesMixin(EmulatorCore):
    """files.info, files.getUploadURLExternal/completeUploadExternal and the file download URLs."""

    def _setup_files(self) -> None:
        self._files: dict[str, _File] = {}
        self._file_ids = itertools.count(1)
        self._uploads: dict[str, _Upload] = {}  # files_upload_v2: reserved, bytes received or not
        self._upload_dir = Path(tempfile.mkdtemp(prefix="devkit-slack-uploads-"))
        weakref.finalize(self, shutil.rmtree, self._upload_dir, ignore_errors=True)

    def expire_uploads(self) -> None:
        """Abort every upload not completed yet, as Slack does when completion never comes."""
        with self._lock:
            self._uploads.clear()

    def add_file(
        self,
        name: str,
        *,
        content: bytes | None = None,
        size: int | None = None,
        mimetype: str = "text/plain",
        filetype: str | None = None,
        user: str = "U0COACH",
        serve_login_page: bool = False,
        fail_download: bool | Literal["drop", "500"] = False,
    ) -> dict[str, Any]:
        """Share a file in the workspace and return its Slack file object.

        The bytes are ``content``, or ``size`` generated bytes (a deterministic pattern
        produced while serving, so a 1 GB file costs no memory; ``sha256_of`` gives their
        digest). They are served at ``url_private(_download)`` to the bot token only.
        ``serve_login_page`` answers Slack's HTML sign-in page instead (what Slack does when
        the app lacks ``files:read``); ``fail_download`` drops the connection half-way
        (True / "drop") or answers HTTP 500 ("500").
        """
        if content is None and size is None:
            raise ValueError("add_file needs content or size")
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(3).upper()}"
        total = len(content) if content is not None else int(size or 0)
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        kind = filetype or ext or "binary"
        created = int(time.time())
        path = f"{self.origin}/files-pri/{file_id}"
        info: dict[str, Any] = {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": kind,
            "pretty_type": kind.upper(),
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": total,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{path}/{quote(name)}",
            "url_private_download": f"{path}/download/{quote(name)}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{quote(name)}",
            "file_access": "visible",
        }
        with self._lock:
            self._files[file_id] = _File(
                info=info,
                content=content,
                size=total,
                serve_login_page=serve_login_page,
                fail_download=fail_download,
            )
        return dict(info)

    def sha256_of(self, file_id: str) -> str:
        """The hex SHA-256 of a file's full bytes, as served (hashes generated bytes as it goes)."""
        digest = hashlib.sha256()
        for piece in self._file(file_id).pieces():
            digest.update(piece)
        return digest.hexdigest()

    def file_bytes(self, file_id: str) -> bytes:
        """A (small) file's bytes, for assertions."""
        return b"".join(self._file(file_id).pieces())

    def set_file_download(self, file_id: str, *, fail_download: bool | Literal["drop", "500"]) -> None:
        """Change how a file's download behaves from now on (e.g. Slack recovers from an outage)."""
        found = self._file(file_id)
        with self._lock:
            found.fail_download = fail_download

    def file_downloads(self, file_id: str) -> int:
        """How many authorised download requests reached the file."""
        return self._file(file_id).downloads

    def _file(self, file_id: str) -> _File:
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            raise KeyError(file_id)
        return found

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = self._files.get(str(args.get("file", "")))
        if found is None:
            raise SlackError("file_not_found")
        return {"file": dict(found.info), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        """Like files.slack.com: the bot token as a bearer header, or a redirect to the sign-in page."""
        with self._lock:
            found = self._files.get(request.match_info["file_id"])
        if found is None:
            return web.Response(status=404, text="file not found")
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        if not token or self.team_of(token) is None or self.token_problem(token) is not None:
            raise web.HTTPFound(f"/signin?redir={quote(request.path)}")
        if found.serve_login_page:  # a token without files:read
            return web.Response(text=LOGIN_PAGE_HTML, content_type="text/html")
        with self._lock:
            found.downloads += 1
        if found.fail_download == "500":
            return web.Response(status=500, text="internal error")
        response = web.StreamResponse(
            headers={
                "Content-Type": found.info["mimetype"],
                "Content-Disposition": f'attachment; filename="{quote(found.info["name"])}"',
            }
        )
        response.content_length = found.size
        await response.prepare(request)
        drop_at = found.size // 2 if found.fail_download else None
        try:
            for piece in found.pieces(drop_at):
                await response.write(piece)
        except ConnectionError:  # the client stopped reading (e.g. the file was too large)
            return response
        if drop_at is not None:
            if request.transport is not None:
                request.transport.abort()  # the client sees a connection cut short of Content-Length
            return response
        await response.write_eof()
        return response

    async def _handle_login_page(self, request: web.Request) -> web.Response:
        return web.Response(text=LOGIN_PAGE_HTML, content_type="text/html")

    # files_upload_v2: files.getUploadURLExternal reserves an id and an upload URL, the client
    # POSTs the bytes there (recorded as method "upload.v1"), files.completeUploadExternal turns
    # it into a shared file and, given a channel, a bot message carrying it.

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("filename") or "")
        try:
            length = int(args.get("length", ""))
        except ValueError:
            length = -1
        if not name or length < 0:
            raise SlackError("invalid_arguments", detail="filename and length are required")
        if length == 0:
            raise SlackError("missing_argument", detail="length is 0")
        if len(str(args.get("alt_txt") or "")) > MAX_ALT_TXT_CHARS:
            raise SlackError("alt_txt_too_large")
        if args.get("snippet_type") and length > MAX_SNIPPET_BYTES:
            raise SlackError("snippet_too_large")
        file_id = f"F{next(self._file_ids):04d}{secrets.token_hex(3).upper()}"
        with self._lock:
            self._uploads[file_id] = _Upload(name=name, length=length, team_id=self.calling_team)
        return {"upload_url": f"{self.origin}/upload/v1/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """Like files.slack.com/upload/v1/…: the URL itself is the credential; answers "OK - <bytes>".

        The body is read as it arrives into a temporary file (kept in memory when small)."""
        file_id = request.match_info["file_id"]
        with self._lock:
            upload = self._uploads.get(file_id)
        fault = self._take_fault("upload.v1")
        if fault is not None and fault.error == "drop":
            await request.content.read(64 * 1024)  # part of the body, then the connection is cut
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        path = self._upload_dir / file_id
        received = 0
        with path.open("wb") as stored:
            async for piece in request.content.iter_chunked(_SERVE_CHUNK):
                stored.write(piece)
                received += len(piece)
        self._record(
            RecordedCall(
                "upload.v1", {"file_id": file_id, "bytes": received}, time.perf_counter(), time.time()
            )
        )
        if fault is not None:
            path.unlink()
            return web.Response(status=fault.status, text=fault.error)
        if upload is None:
            path.unlink()
            return web.Response(status=404, text="upload not found")
        if received != upload.length:
            path.unlink()
            return web.Response(status=400, text=f"expected {upload.length} bytes, received {received}")
        with self._lock:
            if received <= _KEEP_IN_MEMORY:
                upload.content = path.read_bytes()
                path.unlink()
            else:
                upload.path = path
        return web.Response(text=f"OK - {received}")

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = json_list(args.get("files")) or []
        if not entries or not all(isinstance(e, dict) and e.get("id") for e in entries):
            raise SlackError("invalid_arguments", detail="files: an array of {id, title}")
        channels = [c for c in str(args.get("channels") or args.get("channel_id") or "").split(",") if c]
        if args.get("thread_ts") and len(channels) != 1:
            raise SlackError("invalid_arguments", detail="thread_ts needs exactly one channel")
        for channel in channels:
            if not self._may_post_in(channel):
                raise SlackError("invalid_channel")
        with self._lock:
            uploads = [self._uploads.get(str(entry["id"])) for entry in entries]
        if any(u is None or not u.received or u.team_id != self.calling_team for u in uploads):
            raise SlackError("file_not_found")
        shared = []
        for entry in entries:
            with self._lock:
                upload = self._uploads.pop(str(entry["id"]))
            file_id = str(entry["id"])
            info = self._uploaded_file_info(file_id, upload, str(entry.get("title") or upload.name), channels)
            with self._lock:
                self._files[file_id] = _File(
                    info=info, content=upload.content, size=upload.length, path=upload.path
                )
            shared.append(info)
        text = str(args.get("initial_comment") or "")
        check_message_length(text)
        for channel in channels:
            self._new_bot_message(channel, thread_of(args), text, files=[dict(f) for f in shared])
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def _may_post_in(self, channel: str) -> bool:
        """A channel of the calling workspace, or the bot's DM with one of its members."""
        if channel.startswith("D"):
            with self._lock:
                return channel in {self.dm_channel_of(u) for u in self.users}
        return self.channel_visible(channel)

    def _uploaded_file_info(
        self, file_id: str, upload: _Upload, title: str, channels: list[str]
    ) -> dict[str, Any]:
        created = int(time.time())
        mimetype = mimetypes.guess_type(upload.name)[0] or "application/octet-stream"
        kind = upload.name.rpartition(".")[2].lower() if "." in upload.name else "binary"
        path = f"{self.origin}/files-pri/{file_id}"
        return {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": upload.name,
            "title": title,
            "mimetype": mimetype,
            "filetype": kind,
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "size": upload.length,
            "mode": "hosted",
            "is_external": False,
            "url_private": f"{path}/{quote(upload.name)}",
            "url_private_download": f"{path}/download/{quote(upload.name)}",
            "channels": list(channels),
        }
