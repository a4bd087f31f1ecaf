"""The coach's data export, end to end: signed Slack requests into the real app over HTTP, the
emulator as Slack (conversations.open, files_upload_v2), SQLite and PostgreSQL.

``/coach export`` (or **Export my data** in the Home tab) answers at once, then a JSON file and a
Markdown file with everything of that coach in that workspace arrive in their DM, and only there;
a failure says so in a short message with **Try again**, which only its coach can press.
"""

from __future__ import annotations

import io
import json
import urllib.request
from typing import Any

from slack_sdk import WebClient

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.export.service import EXPORT_ACTION
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Message, SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually
from tests.test_log_canary import CANARY

COACH, OTHER = "U0COACH", "U0OTHER"
DM, OTHER_DM = "D0COACH", "D0OTHER"
WRAP_UP = {
    "summary": "You want to delegate the weekly report.",
    "goals": ["Delegate the weekly report"],
    "commitments": [{"text": "Hand the report to Sam by Friday", "due_date": "2026-12-04", "status": "open"}],
    "remember": ["Prefers short answers"],
}


def ephemeral_texts(slack: SlackEmulator) -> list[str]:
    return [str(p.body.get("text")) for p in slack.response_url_posts() if isinstance(p.body, dict)]


def export_message(slack: SlackEmulator, channel: str = DM, timeout: float = 15) -> Message:
    """The bot's message in ``channel`` that carries the export's files."""
    found = eventually(lambda: [m for m in slack.messages(channel) if m.files], timeout=timeout)
    assert found, f"no export arrived in {channel}"
    return found[-1]


def exported(slack: SlackEmulator, message: Message) -> tuple[dict[str, Any], str]:
    files = {f["name"].rpartition(".")[2]: f for f in message.files or []}
    assert set(files) == {"json", "md"}
    return json.loads(slack.file_bytes(files["json"]["id"])), slack.file_bytes(files["md"]["id"]).decode()


def export_by_command(slack: SlackEmulator, server: BackgroundServer, user: str = COACH) -> None:
    channel = DM if user == COACH else OTHER_DM
    delivery = slack.send_command(server.events_url, "/coach", "export", user_id=user, channel_id=channel)
    assert delivery.status == 200


def test_coach_export_sends_every_session_message_and_memory_to_the_coachs_dm_only(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    slack = slack_emulator
    slack.add_user(OTHER)
    first = converse(
        slack, coachbot, slack.user_says(channel=DM, text="My goal is to delegate the weekly report.")
    )
    fake_openai.queue_json(WRAP_UP)
    slack.send_command(coachbot.events_url, "/coach", "wrap", user_id=COACH, channel_id=DM)
    eventually(lambda: len(slack.replies_in(DM, first.thread_ts or "")) >= 2, timeout=15)
    converse(
        slack, coachbot, slack.user_says(channel=OTHER_DM, user=OTHER, text="Someone else's secret plan.")
    )

    export_by_command(slack, coachbot)

    assert eventually(lambda: any("Preparing your export" in t for t in ephemeral_texts(slack)))
    data, markdown = exported(slack, export_message(slack))
    assert data["export"]["user_id"] == COACH and data["export"]["format"] == 1
    (session,) = data["sessions"]
    roles = [m["role"] for m in session["messages"]]
    assert roles[:2] == ["user", "assistant"]
    assert session["messages"][0]["text"] == "My goal is to delegate the weekly report."
    assert [g["text"] for g in data["goals"]] == ["Delegate the weekly report"]
    assert [c["text"] for c in data["commitments"]] == ["Hand the report to Sam by Friday"]
    assert [r["text"] for r in data["remembered"]] == ["Prefers short answers"]
    assert data["summaries"][0]["summary"] == "You want to delegate the weekly report."
    assert "team_id" not in session["messages"][0]
    for text in (
        "# Your coachbot data",
        "## Sessions and messages",
        "> My goal is to delegate the weekly report.",
    ):
        assert text in markdown
    assert "Someone else's secret plan" not in json.dumps(data) + markdown
    uploads = slack.calls_to("files.completeUploadExternal")
    assert [c.args.get("channel_id") for c in uploads] == [DM]  # the coach's own DM, nowhere else


def share_notes_and_export(slack: SlackEmulator, server: BackgroundServer) -> tuple[dict[str, Any], str]:
    shared = slack.add_file("1on1-notes.txt", content=b"Sam wants more ownership.\n")
    converse(slack, server, slack.file_share(channel=DM, files=[shared], text="Here are my notes."))
    export_by_command(slack, server)
    return exported(slack, export_message(slack))


def test_the_export_lists_the_coachs_files_with_fresh_links_that_work(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    data, markdown = share_notes_and_export(slack_emulator, coachbot)

    (file,) = data["files"]
    assert (file["name"], file["status"]) == ("1on1-notes.txt", "stored")
    assert "storage_key" not in file
    with urllib.request.urlopen(file["link"], timeout=10) as response:
        assert response.read() == b"Sam wants more ownership.\n"
    assert "u=U0COACH" in file["link"]  # the app's signed link, made out to the coach
    assert "**1on1-notes.txt**" in markdown and file["link"] in markdown


def test_files_kept_in_s3_come_with_presigned_links_that_work(
    slack_emulator: SlackEmulator, settings: Settings, s3_settings: Settings
) -> None:
    s3 = settings.with_overrides(s3_bucket=s3_settings.s3_bucket, s3_endpoint_url=s3_settings.s3_endpoint_url)
    with BackgroundServer(s3) as server:
        data, _ = share_notes_and_export(slack_emulator, server)

    (file,) = data["files"]
    assert "X-Amz-Expires=300" in file["link"]
    with urllib.request.urlopen(file["link"], timeout=10) as response:
        assert response.read() == b"Sam wants more ownership.\n"


def test_the_home_tabs_export_button_sends_the_export_to_the_presser(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack = slack_emulator
    converse(slack, coachbot, slack.user_says(channel=DM, text="Let's talk about hiring."))
    button = {
        "type": "button",
        "action_id": EXPORT_ACTION,
        "value": "",
        "text": {"type": "plain_text", "text": "x"},
    }
    home = WebClient(token=slack.bot_token, base_url=slack.base_url).views_publish(
        user_id=COACH,
        view={"type": "home", "blocks": [{"type": "actions", "block_id": "data", "elements": [button]}]},
    )["view"]

    press = slack.block_actions(user_id=COACH, action={**button, "block_id": "data"}, view=home)
    assert slack.send_interaction(coachbot.events_url, press).status == 200

    acknowledged = eventually(lambda: slack.calls_to("chat.postEphemeral"))
    assert acknowledged[0].args["channel"] == DM and acknowledged[0].args["user"] == COACH
    assert "Preparing your export" in acknowledged[0].args["text"]
    data, _ = exported(slack, export_message(slack))
    assert data["sessions"][0]["messages"][0]["text"] == "Let's talk about hiring."


def test_a_failed_export_says_so_and_only_its_coach_may_press_try_again(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack = slack_emulator
    slack.add_user(OTHER)
    granted = list(slack.scopes or [])
    slack.scopes = [s for s in granted if s != "files:write"]  # Slack refuses the upload: missing_scope

    export_by_command(slack, coachbot)

    failure = eventually(lambda: [m for m in slack.messages(DM) if "couldn't prepare your export" in m.text])
    assert failure, "the coach was not told the export failed"
    assert not slack.calls_to("files.completeUploadExternal")

    slack.scopes = granted
    before = len(slack.response_url_posts())
    slack.press_button(coachbot.events_url, action_id=EXPORT_ACTION, message=failure[-1], user=OTHER)
    refused = eventually(lambda: ephemeral_texts(slack)[before:])
    assert refused and "That button is for the person whose data it is" in refused[0]
    assert not slack.calls_to("files.completeUploadExternal")  # nothing went to anyone

    slack.press_button(coachbot.events_url, action_id=EXPORT_ACTION, message=failure[-1], user=COACH)
    data, _ = exported(slack, export_message(slack))
    assert data["export"]["user_id"] == COACH
    assert [c.args.get("channel_id") for c in slack.calls_to("files.completeUploadExternal")] == [DM]


def test_a_second_export_while_one_is_on_its_way_is_told_so(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack = slack_emulator
    converse(slack, coachbot, slack.user_says(channel=DM, text="Let's plan my week."))
    slack.delay("files.getUploadURLExternal", 1.0)  # the first export is still uploading

    export_by_command(slack, coachbot)
    assert eventually(lambda: any("Preparing your export" in t for t in ephemeral_texts(slack)))
    export_by_command(slack, coachbot)

    assert eventually(lambda: any("already being prepared" in t for t in ephemeral_texts(slack)))
    export_message(slack)
    assert len(slack.calls_to("files.completeUploadExternal")) == 1


def test_no_log_line_holds_the_coachs_words_or_file_names_when_exporting(
    slack_emulator: SlackEmulator,
    settings: Settings,
    log_output: io.StringIO,
) -> None:
    slack = slack_emulator
    with BackgroundServer(settings) as server:
        converse(slack, server, slack.user_says(channel=DM, text=f"My {CANARY} plan."))
        shared = slack.add_file(f"{CANARY}.txt", content=f"{CANARY}\n".encode())
        converse(slack, server, slack.file_share(channel=DM, files=[shared], text="notes"))
        slack.fail("files.completeUploadExternal", error="internal_error", status=200, retry_after=None)
        export_by_command(slack, server)
        assert eventually(lambda: [m for m in slack.messages(DM) if "couldn't prepare your export" in m.text])

        export_by_command(slack, server)
        export_message(slack)
        assert eventually(lambda: "Data export delivered" in log_output.getvalue())

    logged = log_output.getvalue()
    assert "The data export failed" in logged
    assert [line for line in logged.splitlines() if CANARY in line] == []


def test_asked_for_in_a_channel_the_export_still_goes_only_to_the_coachs_dm(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    slack = slack_emulator
    delivery = slack.send_command(
        coachbot.events_url, "/coach", "export", user_id=COACH, channel_id="C0LEADS"
    )
    assert delivery.status == 200

    export_message(slack, DM)
    assert [p.body.get("response_type") for p in slack.response_url_posts()] == ["ephemeral"]
    assert not [m for m in slack.messages("C0LEADS") if m.files or m.is_bot]
