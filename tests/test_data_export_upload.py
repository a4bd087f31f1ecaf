"""The export's streamed upload (bot/delivery/streamed_upload.py), against the emulator over HTTP:
what files_upload_v2 handles for this call, handled too.

Both files arrive in one message with their titles and the comment; a non-ASCII file name
arrives as written; an empty file is Slack's ``missing_argument``; an upload URL answering 5xx
or cutting the connection is ``UploadFailed`` (a slack_sdk ``SlackRequestError``), and in the
real export the coach's DM gets the short "couldn't prepare your export" message, nothing shared.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.assembly.serve import BackgroundServer
from bot.delivery.streamed_upload import LocalFile, UploadFailed, share_files
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually
from tests.test_data_export_e2e import DM, export_by_command, export_message, exported


def client_of(slack: SlackEmulator, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.base_url, session=session)


def local(directory: Path, name: str, content: bytes, title: str = "") -> LocalFile:
    path = directory / f"{len(list(directory.iterdir()))}.bin"
    path.write_bytes(content)
    return LocalFile(path, name, title or name)


async def test_both_files_are_shared_in_one_message_with_their_titles_and_the_comment(
    slack_emulator: SlackEmulator, tmp_path: Path
) -> None:
    slack = slack_emulator
    files = [
        local(tmp_path, "data.json", b'{"a": 1}', "Your data (JSON)"),
        local(tmp_path, "data.md", b"# Data\n" * 200_000, "Your data (Markdown)"),  # 1.4 MB: kept on disk
    ]

    answer = await share_files(client_of(slack), channel=DM, initial_comment="Here it is", files=files)

    (message,) = slack.messages(DM)
    assert message.text == "Here it is"
    assert [(f["name"], f["title"], f["size"]) for f in message.files or []] == [
        ("data.json", "Your data (JSON)", 8),
        ("data.md", "Your data (Markdown)", 1_400_000),
    ]
    assert [f["id"] for f in answer["files"]] == [f["id"] for f in message.files or []]
    assert slack.file_bytes(answer["files"][1]["id"]) == b"# Data\n" * 200_000
    assert [c.args["bytes"] for c in slack.calls_to("upload.v1")] == [8, 1_400_000]
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


async def test_a_non_ascii_file_name_arrives_as_written(
    slack_emulator: SlackEmulator, tmp_path: Path
) -> None:
    name = "Übersicht — 日本語 notes.md"
    content = "Ça va? 日本語\n".encode()

    answer = await share_files(
        client_of(slack_emulator), channel=DM, initial_comment="", files=[local(tmp_path, name, content)]
    )

    (message,) = slack_emulator.messages(DM)
    assert (message.files or [])[0]["name"] == name
    assert slack_emulator.file_bytes(answer["files"][0]["id"]) == content


async def test_an_empty_file_is_refused_by_slack_and_nothing_is_shared(
    slack_emulator: SlackEmulator, tmp_path: Path
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await share_files(
            client_of(slack_emulator),
            channel=DM,
            initial_comment="",
            files=[local(tmp_path, "empty.md", b"")],
        )

    assert refused.value.response["error"] == "missing_argument"
    assert not slack_emulator.calls_to("files.completeUploadExternal")


async def test_an_upload_url_answering_5xx_is_an_upload_failure_and_nothing_is_completed(
    slack_emulator: SlackEmulator, tmp_path: Path
) -> None:
    slack_emulator.fail("upload.v1", error="internal_error", status=503)

    with pytest.raises(UploadFailed) as failed:
        await share_files(
            client_of(slack_emulator),
            channel=DM,
            initial_comment="",
            files=[local(tmp_path, "a.md", b"hello")],
        )

    assert failed.value.status == 503 and isinstance(failed.value, SlackRequestError)
    assert not slack_emulator.calls_to("files.completeUploadExternal")


async def test_a_dropped_connection_is_retried_once_from_the_first_byte(
    slack_emulator: SlackEmulator, tmp_path: Path
) -> None:
    content = b"x" * 300_000
    slack_emulator.fail("upload.v1", error="drop")

    async with aiohttp.ClientSession() as session:
        answer = await share_files(
            client_of(slack_emulator, session),
            channel=DM,
            initial_comment="",
            files=[local(tmp_path, "a.md", content)],
        )
        assert not session.closed  # the client's own session: used, not closed

    assert slack_emulator.file_bytes(answer["files"][0]["id"]) == content


async def test_a_connection_dropped_twice_is_an_upload_failure(
    slack_emulator: SlackEmulator, tmp_path: Path
) -> None:
    slack_emulator.fail("upload.v1", error="drop", times=2)

    with pytest.raises(UploadFailed) as failed:
        await share_files(
            client_of(slack_emulator),
            channel=DM,
            initial_comment="",
            files=[local(tmp_path, "a.md", b"x" * 300_000)],
        )

    assert failed.value.status is None
    assert not slack_emulator.calls_to("files.completeUploadExternal")


@pytest.mark.parametrize(
    "fault",
    [{"error": "internal_error", "status": 500}, {"error": "drop", "times": 2}],
    ids=["upload-url-500", "connection-dropped"],
)
def test_a_failed_upload_tells_the_coach_in_their_dm_and_try_again_delivers(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, fault: dict[str, object]
) -> None:
    slack = slack_emulator
    converse(slack, coachbot, slack.user_says(channel=DM, text="Let's plan my week."))
    slack.fail("upload.v1", **fault)  # type: ignore[arg-type]

    export_by_command(slack, coachbot)

    failure = eventually(lambda: [m for m in slack.messages(DM) if "couldn't prepare your export" in m.text])
    assert failure, "the coach was not told the export failed"
    assert not [m for m in slack.messages(DM) if m.files]  # nothing was shared
    assert not slack.calls_to("files.completeUploadExternal")

    export_by_command(slack, coachbot)
    data, _ = exported(slack, export_message(slack))
    assert data["sessions"][0]["messages"][0]["text"] == "Let's plan my week."
