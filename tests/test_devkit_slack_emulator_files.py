"""The Slack emulator's files: file objects, files.info, bearer-checked downloads, file_share events."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devkit.slack_emulator import SlackEmulator


def get(url: str, token: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_an_added_file_looks_like_slacks_file_object(slack_emulator: SlackEmulator) -> None:
    shared = slack_emulator.add_file("Coaching Notes.pdf", size=2048, mimetype="application/pdf")

    assert shared["id"].startswith("F")
    assert shared["name"] == "Coaching Notes.pdf"
    assert (shared["mimetype"], shared["filetype"], shared["size"]) == ("application/pdf", "pdf", 2048)
    assert shared["url_private"] == f"{slack_emulator.origin}/files-pri/{shared['id']}/Coaching%20Notes.pdf"
    assert shared["url_private_download"].startswith(
        f"{slack_emulator.origin}/files-pri/{shared['id']}/download/"
    )


def test_files_info_answers_for_known_files_only(slack_emulator: SlackEmulator) -> None:
    shared = slack_emulator.add_file("a.txt", content=b"hello", filetype="text")
    client = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.base_url)

    assert client.files_info(file=shared["id"])["file"] == shared
    with pytest.raises(SlackApiError) as raised:
        client.files_info(file="F0MISSING")
    assert raised.value.response["error"] == "file_not_found"


def test_downloads_need_the_bot_token_else_slack_redirects_to_sign_in(slack_emulator: SlackEmulator) -> None:
    shared = slack_emulator.add_file("a.txt", content=b"hello")

    assert get(shared["url_private_download"], slack_emulator.bot_token) == (200, "text/plain", b"hello")
    for token in (None, "xoxb-wrong"):
        status, content_type, body = get(shared["url_private_download"], token)
        assert (status, content_type) == (200, "text/html; charset=utf-8")  # the redirect, followed
        assert b"Sign in" in body
    assert slack_emulator.file_downloads(shared["id"]) == 1


def test_generated_bytes_are_deterministic_and_match_sha256_of(slack_emulator: SlackEmulator) -> None:
    shared = slack_emulator.add_file("big.bin", size=3 * 1024 * 1024 + 11)

    first = get(shared["url_private_download"], slack_emulator.bot_token)[2]
    second = get(shared["url_private"], slack_emulator.bot_token)[2]

    assert first == second == slack_emulator.file_bytes(shared["id"])
    assert len(first) == 3 * 1024 * 1024 + 11
    assert hashlib.sha256(first).hexdigest() == slack_emulator.sha256_of(shared["id"])
    assert len(set(first[:65536])) > 200  # not a run of one byte: compression can't flatter a bench


def test_faults_login_page_and_server_error(slack_emulator: SlackEmulator) -> None:
    login = slack_emulator.add_file("a.txt", content=b"x", serve_login_page=True)
    broken = slack_emulator.add_file("b.txt", content=b"x", fail_download="500")

    status, content_type, page = get(login["url_private_download"], slack_emulator.bot_token)
    assert b"Sign in" in page
    assert (status, content_type.split(";")[0]) == (200, "text/html")
    assert get(broken["url_private_download"], slack_emulator.bot_token)[0] == 500


def test_a_file_share_message_carries_the_files(slack_emulator: SlackEmulator) -> None:
    shared = slack_emulator.add_file("notes.txt", content=b"x")

    event = slack_emulator.user_says(
        channel="D0COACH", text="here are my notes", files=[shared], thread_ts="1.0"
    )
    bare = slack_emulator.file_share(channel="D0COACH", files=[shared])

    assert (event["type"], event["subtype"], event["thread_ts"]) == ("message", "file_share", "1.0")
    assert event["files"] == [shared]
    assert event["text"] == "here are my notes"
    assert (bare["subtype"], bare["text"], bare["files"][0]["id"]) == ("file_share", "", shared["id"])
    assert "blocks" not in bare
