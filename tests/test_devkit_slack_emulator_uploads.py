"""The emulator's files_upload_v2 flow, held to what files.getUploadURLExternal and
files.completeUploadExternal document: required arguments, limits and their error codes."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devkit.slack_emulator import SlackEmulator


def client_of(slack: SlackEmulator, token: str | None = None) -> WebClient:
    return WebClient(token=token or slack.bot_token, base_url=slack.base_url)


def error_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def reserved_and_sent(slack: SlackEmulator, client: WebClient, body: bytes = b"hello") -> str:
    reserved = client.files_getUploadURLExternal(filename="notes.md", length=len(body))
    request = urllib.request.Request(reserved["upload_url"], data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return str(reserved["file_id"])


def test_files_upload_v2_shares_every_file_in_one_message_of_the_dm(slack_emulator: SlackEmulator) -> None:
    client = client_of(slack_emulator)
    dm = client.conversations_open(users="U0COACH")["channel"]["id"]

    client.files_upload_v2(
        channel=dm,
        initial_comment="Your data",
        file_uploads=[
            {"content": '{"a": 1}', "filename": "data.json", "title": "JSON"},
            {"content": "# Data", "filename": "data.md", "title": "Markdown"},
        ],
    )

    (message,) = slack_emulator.messages(dm)
    assert message.text == "Your data"
    assert [(f["name"], f["title"], f["size"]) for f in message.files or []] == [
        ("data.json", "JSON", 8),
        ("data.md", "Markdown", 6),
    ]
    assert slack_emulator.file_bytes(message.files[0]["id"]) == b'{"a": 1}'  # type: ignore[index]


def test_get_upload_url_needs_a_filename_and_a_length_above_zero(slack_emulator: SlackEmulator) -> None:
    client = client_of(slack_emulator)

    assert error_of(lambda: client.files_getUploadURLExternal(filename="", length=5)) == "invalid_arguments"
    assert (
        error_of(lambda: client.files_getUploadURLExternal(filename="a.md", length=0)) == "missing_argument"
    )
    assert (
        error_of(lambda: client.files_getUploadURLExternal(filename="a.png", length=5, alt_txt="x" * 1001))
        == "alt_txt_too_large"
    )
    assert (
        error_of(
            lambda: client.files_getUploadURLExternal(
                filename="a.py", length=2 * 1024 * 1024, snippet_type="python"
            )
        )
        == "snippet_too_large"
    )


def test_complete_upload_refuses_unsent_bytes_bad_channels_and_threads_in_two_channels(
    slack_emulator: SlackEmulator,
) -> None:
    client = client_of(slack_emulator)
    unsent = client.files_getUploadURLExternal(filename="a.md", length=5)["file_id"]

    assert error_of(lambda: client.files_completeUploadExternal(files=[{"id": unsent}])) == "file_not_found"
    sent = reserved_and_sent(slack_emulator, client)
    assert (
        error_of(lambda: client.files_completeUploadExternal(files=[{"id": sent}], channel_id="D0NOBODY"))
        == "invalid_channel"
    )
    assert (
        error_of(
            lambda: client.files_completeUploadExternal(
                files=[{"id": sent}], channels=["C0ONE", "C0TWO"], thread_ts="1700000000.000100"
            )
        )
        == "invalid_arguments"
    )
    assert (
        error_of(lambda: client.files_completeUploadExternal(files=[{"title": "no id"}]))
        == "invalid_arguments"
    )
    assert client.files_completeUploadExternal(files=[{"id": sent, "title": "Notes"}])["files"] == [
        {"id": sent, "title": "Notes"}
    ]


def test_an_upload_reserved_by_one_workspace_cannot_be_completed_by_another(
    slack_emulator: SlackEmulator,
) -> None:
    slack_emulator.add_workspace("T0OTHER", "xoxb-other")
    sent = reserved_and_sent(slack_emulator, client_of(slack_emulator))

    other = client_of(slack_emulator, "xoxb-other")
    assert error_of(lambda: other.files_completeUploadExternal(files=[{"id": sent}])) == "file_not_found"


def post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_upload_url_takes_exactly_the_reserved_length_or_answers_non_200(
    slack_emulator: SlackEmulator,
) -> None:
    client = client_of(slack_emulator)
    short = client.files_getUploadURLExternal(filename="a.md", length=10)

    assert post(short["upload_url"], b"hello")[0] == 400  # 5 of the 10 bytes promised
    assert (
        error_of(lambda: client.files_completeUploadExternal(files=[{"id": short["file_id"]}]))
        == "file_not_found"
    )
    exact = client.files_getUploadURLExternal(filename="a.md", length=5)
    assert post(exact["upload_url"], b"hello") == (200, "OK - 5")


def test_an_upload_is_completed_once_and_an_expired_one_not_at_all(slack_emulator: SlackEmulator) -> None:
    client = client_of(slack_emulator)
    sent = reserved_and_sent(slack_emulator, client)
    assert client.files_completeUploadExternal(files=[{"id": sent}])["ok"]
    assert error_of(lambda: client.files_completeUploadExternal(files=[{"id": sent}])) == "file_not_found"

    reserved = client.files_getUploadURLExternal(filename="late.md", length=5)
    slack_emulator.expire_uploads()  # never completed: Slack aborts it
    assert post(reserved["upload_url"], b"hello")[0] == 404
    assert (
        error_of(lambda: client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}]))
        == "file_not_found"
    )


def test_the_upload_url_fails_on_cue_with_a_5xx_or_a_dropped_connection(
    slack_emulator: SlackEmulator,
) -> None:
    client = client_of(slack_emulator)
    slack_emulator.fail("upload.v1", error="internal_error", status=503)
    reserved = client.files_getUploadURLExternal(filename="a.md", length=5)
    assert post(reserved["upload_url"], b"hello")[0] == 503

    slack_emulator.fail("upload.v1", error="drop")
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.HTTPException)):
        post(reserved["upload_url"], b"hello")
    assert post(reserved["upload_url"], b"hello") == (200, "OK - 5")  # the next one goes through
