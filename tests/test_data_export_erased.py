"""An export under way when its coach deletes their data is never shared: what it read is what the
delete removed. Signed ``/coach export`` then ``/coach delete`` through the emulator's modal, on
SQLite and PostgreSQL; the emulator holds the export at the step named, so the delete lands there.

Held before the upload (``conversations.open`` comes once the files are built) the export uploads
nothing; held during it (``files.getUploadURLExternal``) the bytes go up but are never shared
(files.completeUploadExternal is never called: Slack drops uploads never completed). Either way
the coach's DM says so in a line, and an export asked for after the delete goes out as usual.
"""

from __future__ import annotations

import pytest

from bot.assembly.serve import BackgroundServer
from bot.export.service import WITHDRAWN
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually
from tests.test_data_export_e2e import DM, ephemeral_texts, export_by_command, export_message, exported
from tests.test_erase_e2e import delete_through_the_modal

#: Long enough for the signed delete to finish while the export waits on Slack.
HELD_SECONDS = 4.0


def dm_texts(slack: SlackEmulator) -> list[str]:
    return [message.text for message in slack.messages(DM)]


@pytest.mark.parametrize("held_at", ["conversations.open", "files.getUploadURLExternal"])
def test_an_export_under_way_when_the_coach_deletes_everything_is_never_shared(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, held_at: str
) -> None:
    slack = slack_emulator
    converse(slack, coachbot, slack.user_says(channel=DM, text="My plan for the zeppelin launch."))
    slack.delay(held_at, HELD_SECONDS)

    export_by_command(slack, coachbot)
    assert eventually(lambda: slack.calls_to(held_at), timeout=15)  # built: its snapshot is read
    slack.clear_faults()
    assert "Done. I deleted 1 session" in delete_through_the_modal(slack, coachbot)

    assert eventually(lambda: WITHDRAWN in dm_texts(slack), timeout=20)
    assert not [message for message in slack.messages(DM) if message.files]
    assert not slack.calls_to("files.completeUploadExternal")
    if held_at == "conversations.open":
        assert not slack.calls_to("files.getUploadURLExternal")


def test_an_export_asked_for_after_the_delete_is_shared_with_what_came_after(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack = slack_emulator
    converse(slack, coachbot, slack.user_says(channel=DM, text="My plan for the zeppelin launch."))
    assert "Done. I deleted" in delete_through_the_modal(slack, coachbot)
    converse(slack, coachbot, slack.user_says(channel=DM, text="A fresh start on hiring."))

    export_by_command(slack, coachbot)

    assert eventually(lambda: any("Preparing your export" in t for t in ephemeral_texts(slack)))
    data, markdown = exported(slack, export_message(slack))
    (session,) = data["sessions"]
    assert session["messages"][0]["text"] == "A fresh start on hiring."
    assert "zeppelin" not in markdown
    assert WITHDRAWN not in dm_texts(slack)
