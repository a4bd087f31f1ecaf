"""Files shared in a coaching session, end to end.

Signed file_share events go over HTTP into the real app; the app downloads the bytes from the
devkit Slack emulator (bearer token checked) and streams them into the file store: a local
folder, or S3 on moto's server where S3 is the point. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.app import converse
from tests.fixtures.documents import tiny_pdf
from tests.fixtures.waiting import eventually, wait_until_handled

T = TypeVar("T")
DM = "D0COACH"
CHANNEL = "C0LEADS"
NOTES = b"Goals for Q3: hire two engineers; ship the mobile app.\n"


def query(database_url: str, sql: str) -> list[dict[str, Any]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def attachment_rows(database_url: str) -> list[dict[str, Any]]:
    return query(database_url, "SELECT * FROM attachments ORDER BY id")


def attachment_count(database_url: str) -> int:
    return query(database_url, "SELECT sum(attachment_count) AS n FROM coaching_sessions")[0]["n"] or 0


def stored_files(settings: Settings) -> list[Path]:
    """Everything in the local file store, partial uploads included."""
    root = Path(settings.attachments_dir)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def share(slack: SlackEmulator, *files: dict[str, Any], text: str = "", **where: Any) -> dict[str, Any]:
    where.setdefault("channel", DM)
    return slack.file_share(files=list(files), text=text, **where)


@pytest.fixture
def small_limit_bot(settings: Settings) -> Iterator[BackgroundServer]:
    """The app with MAX_ATTACHMENT_MB=1."""
    with BackgroundServer(settings.with_overrides(max_attachment_mb=1)) as server:
        yield server


# ------------------------------------------------------------------------- stored


def test_a_shared_text_file_is_stored_with_a_matching_sha256_and_confirmed(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    settings: Settings,
    database_url: str,
) -> None:
    file = slack_emulator.add_file("q3 goals.txt", content=NOTES)

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file))

    assert "I've saved *q3 goals.txt*" in reply.text
    assert fake_openai.requests == [], "a file alone is confirmed without the model"
    [row] = attachment_rows(database_url)
    assert row["status"] == "stored" and row["error"] is None
    assert (row["name"], row["mime_type"], row["size"]) == ("q3 goals.txt", "text/plain", len(NOTES))
    assert row["sha256"] == hashlib.sha256(NOTES).hexdigest() == slack_emulator.sha256_of(file["id"])
    assert row["storage_key"].endswith(f"/{row['session_id']}/{row['id']}/q3_goals.txt")
    [path] = stored_files(settings)
    assert path.read_bytes() == NOTES
    assert attachment_count(database_url) == 1


def test_a_pdf_shared_with_a_question_is_stored_and_the_question_answered(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    pdf = tiny_pdf(["Engagement survey: 62% feel heard by their manager."])
    file = slack_emulator.add_file("survey.pdf", content=pdf, mimetype="application/pdf")
    fake_openai.queue_reply("Let's look at what makes people feel heard.")
    event = share(slack_emulator, file, text="What stands out in this survey?")

    reply = converse(slack_emulator, coachbot, event)

    assert reply.text == "Let's look at what makes people feel heard."
    user_turns = [m["content"] for m in fake_openai.requests[-1].body["messages"] if m["role"] == "user"]
    assert any("What stands out in this survey?" in str(turn) for turn in user_turns)
    [row] = attachment_rows(database_url)
    assert (row["status"], row["mime_type"], row["sha256"]) == (
        "stored",
        "application/pdf",
        hashlib.sha256(pdf).hexdigest(),
    )


def test_the_coach_sees_a_reaction_while_the_file_streams_and_a_tick_when_it_is_saved(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    event = share(
        slack_emulator, slack_emulator.add_file("notes.md", content=b"# Notes\n", filetype="markdown")
    )

    converse(slack_emulator, coachbot, event)

    def reactions() -> list[tuple[str, str]]:
        return [
            (call.method, call.args["name"])
            for call in slack_emulator.calls
            if call.method.startswith("reactions.") and call.args.get("timestamp") == event["ts"]
        ]

    expected = [
        ("reactions.add", "inbox_tray"),
        ("reactions.remove", "inbox_tray"),
        ("reactions.add", "white_check_mark"),
    ]
    assert eventually(lambda: reactions() == expected), reactions()


def test_in_the_agent_panel_the_status_says_the_file_is_being_read(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    thread_ts = slack_emulator.ts()
    file = slack_emulator.add_file("notes.txt", content=NOTES)

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file, thread_ts=thread_ts))

    assert "I've saved *notes.txt*" in reply.text
    statuses = [call.args["status"] for call in slack_emulator.calls_to("assistant.threads.setStatus")]
    assert statuses[0] == "is reading your file…"
    assert attachment_rows(database_url)[0]["status"] == "stored"


def test_a_file_shared_in_a_channel_session_thread_is_stored_in_that_session(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    opener = slack_emulator.mention(channel=CHANNEL, text="Help me prepare my team offsite.")
    converse(slack_emulator, coachbot, opener)
    file = slack_emulator.add_file("agenda.csv", content=b"time,topic\n9:00,welcome\n", mimetype="text/csv")
    event = share(slack_emulator, file, channel=CHANNEL, channel_type="channel", thread_ts=opener["ts"])

    reply = converse(slack_emulator, coachbot, event)

    assert "I've saved *agenda.csv*" in reply.text
    [session] = query(database_url, "SELECT id, attachment_count FROM coaching_sessions")
    [row] = attachment_rows(database_url)
    assert (row["session_id"], row["status"]) == (session["id"], "stored")
    assert session["attachment_count"] == 1


def test_a_retried_delivery_stores_the_file_once_and_replies_once(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("notes.txt", content=NOTES)
    event = share(slack_emulator, file)

    deliveries = [
        slack_emulator.send_event(coachbot.events_url, event, event_id="Ev0FILE", retry_num=retry)
        for retry in (None, 1, 2)
    ]
    wait_until_handled(coachbot.url, 3)  # all three deliveries, the two ignored ones included

    assert all(delivery.status == 200 for delivery in deliveries)
    assert len(slack_emulator.replies_in(DM, event["ts"])) == 1
    assert slack_emulator.file_downloads(file["id"]) == 1
    assert [row["status"] for row in attachment_rows(database_url)] == ["stored"]
    assert len(stored_files(settings)) == 1
    assert attachment_count(database_url) == 1


# ------------------------------------------------------------------------- bad input


def test_a_login_page_instead_of_the_file_is_refused_with_a_hint_about_files_read(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("report.pdf", content=b"%PDF-1.4", serve_login_page=True)

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file))

    assert "sign-in page" in reply.text and "files:read" in reply.text
    [row] = attachment_rows(database_url)
    assert (row["status"], row["error"], row["storage_key"]) == ("rejected", "login_page", None)
    assert stored_files(settings) == []
    assert attachment_count(database_url) == 0


def test_a_file_over_the_size_limit_is_refused_without_downloading_it(
    slack_emulator: SlackEmulator, small_limit_bot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("recording.pdf", size=3 * 1024 * 1024, mimetype="application/pdf")

    reply = converse(slack_emulator, small_limit_bot, share(slack_emulator, file))

    assert "*recording.pdf* is 3.0 MB; I can take files up to 1 MB." in reply.text
    assert slack_emulator.file_downloads(file["id"]) == 0
    [row] = attachment_rows(database_url)
    assert (row["status"], row["error"], row["size"]) == ("rejected", "too_large", 3 * 1024 * 1024)
    assert stored_files(settings) == []


def test_a_file_larger_than_slack_said_is_stopped_at_the_limit_and_nothing_is_kept(
    slack_emulator: SlackEmulator, small_limit_bot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("notes.txt", size=3 * 1024 * 1024)
    file["size"] = 1000  # the event's metadata understates the real size

    reply = converse(slack_emulator, small_limit_bot, share(slack_emulator, file))

    assert "*notes.txt* is larger than 1 MB" in reply.text
    [row] = attachment_rows(database_url)
    assert (row["status"], row["error"]) == ("rejected", "too_large")
    assert stored_files(settings) == []


def test_an_empty_file_is_refused(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("empty.txt", content=b"")

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file))

    assert "*empty.txt* is empty" in reply.text
    assert "only read text" in reply.text, "nothing was saved: the usual note follows"
    assert [(r["status"], r["error"]) for r in attachment_rows(database_url)] == [("rejected", "empty")]
    assert slack_emulator.file_downloads(file["id"]) == 0
    assert stored_files(settings) == []


def test_an_unsupported_type_is_refused_naming_the_accepted_ones(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("setup.exe", content=b"MZ\x90\x00", mimetype="application/x-msdownload")

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file))

    assert "I can't read *setup.exe*" in reply.text
    assert "txt, md, csv, pdf, docx, png, jpeg, gif or webp" in reply.text
    assert [(r["status"], r["error"]) for r in attachment_rows(database_url)] == [("rejected", "unsupported")]
    assert slack_emulator.file_downloads(file["id"]) == 0
    assert stored_files(settings) == []


def test_the_coachs_question_is_still_answered_when_the_file_is_refused(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    file = slack_emulator.add_file("setup.exe", content=b"MZ", mimetype="application/x-msdownload")
    fake_openai.queue_reply("Happy to help you plan the rollout.")
    event = share(slack_emulator, file, text="How should I plan the rollout?")

    slack_emulator.send_event(coachbot.events_url, event)
    replies = slack_emulator.wait_for_replies(DM, event["ts"], count=2)

    assert "I can't read *setup.exe*" in replies[0].text
    assert replies[1].text == "Happy to help you plan the rollout."


def test_a_download_failure_is_recorded_told_and_the_retry_stores_it_later(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, settings: Settings, database_url: str
) -> None:
    file = slack_emulator.add_file("report.txt", content=NOTES * 100, fail_download=True)
    event = share(slack_emulator, file)

    reply = converse(slack_emulator, coachbot, event)

    assert "couldn't download *report.txt* from Slack just now" in reply.text
    assert "try again" in reply.text
    [row] = attachment_rows(database_url)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "download_failed", 1)
    assert stored_files(settings) == []

    slack_emulator.set_file_download(file["id"], fail_download=False)  # Slack is back
    stored = coachbot.run_coroutine(coachbot.runtime.attachments.retry_failed())

    assert stored == 1
    told = slack_emulator.wait_for_replies(DM, event["ts"], count=2)[-1]
    assert told.text == "I've now saved *report.txt*."
    [row] = attachment_rows(database_url)
    assert (row["status"], row["attempts"]) == ("stored", 2)
    assert row["sha256"] == hashlib.sha256(NOTES * 100).hexdigest()
    assert attachment_count(database_url) == 1


def test_the_retry_gives_up_after_the_last_attempt_and_says_so(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    file = slack_emulator.add_file("report.txt", content=NOTES, fail_download="500")
    event = share(slack_emulator, file)
    converse(slack_emulator, coachbot, event)

    retried = [coachbot.run_coroutine(coachbot.runtime.attachments.retry_failed()) for _ in range(5)]

    assert retried == [0, 0, 0, 0, 0]
    replies = slack_emulator.wait_for_replies(DM, event["ts"], count=2)
    assert len(replies) == 2, "quiet while retrying, one message when giving up"
    assert "still couldn't save *report.txt*" in replies[-1].text
    [row] = attachment_rows(database_url)
    assert (row["status"], row["attempts"]) == ("failed", 5)
    assert slack_emulator.file_downloads(file["id"]) == 5


# ------------------------------------------------------------------------- S3


def test_in_s3_the_file_is_stored_encrypted_with_a_matching_sha256(
    slack_emulator: SlackEmulator, s3_bot: BackgroundServer, s3_client: Any, s3_bucket: str, database_url: str
) -> None:
    file = slack_emulator.add_file("notes.txt", content=NOTES)

    converse(slack_emulator, s3_bot, share(slack_emulator, file))

    [row] = attachment_rows(database_url)
    stored = s3_client.get_object(Bucket=s3_bucket, Key=row["storage_key"])
    body = stored["Body"].read()
    assert hashlib.sha256(body).hexdigest() == row["sha256"] == hashlib.sha256(NOTES).hexdigest()
    assert stored["ServerSideEncryption"] == "AES256"
    assert stored["ContentType"] == "text/plain"


def test_an_upload_failure_leaves_nothing_half_stored_and_the_retry_stores_it(
    slack_emulator: SlackEmulator,
    settings: Settings,
    s3_settings: Settings,
    s3_client: Any,
    database_url: str,
) -> None:
    missing_bucket = f"{s3_settings.s3_bucket}-later"
    broken = settings.with_overrides(s3_bucket=missing_bucket, s3_endpoint_url=s3_settings.s3_endpoint_url)
    file = slack_emulator.add_file("notes.txt", content=NOTES)
    event = share(slack_emulator, file)

    with BackgroundServer(broken) as server:
        reply = converse(slack_emulator, server, event)

        assert "couldn't save *notes.txt* just now: my file storage didn't answer" in reply.text
        [row] = attachment_rows(database_url)
        assert (row["status"], row["error"], row["storage_key"]) == ("failed", "upload_failed", None)

        s3_client.create_bucket(Bucket=missing_bucket)  # the store is back
        try:
            assert s3_client.list_multipart_uploads(Bucket=missing_bucket).get("Uploads", []) == []
            assert server.run_coroutine(server.runtime.attachments.retry_failed()) == 1
            [row] = attachment_rows(database_url)
            assert row["status"] == "stored"
            body = s3_client.get_object(Bucket=missing_bucket, Key=row["storage_key"])["Body"].read()
            assert body == NOTES
        finally:
            for item in s3_client.list_objects_v2(Bucket=missing_bucket).get("Contents", []):
                s3_client.delete_object(Bucket=missing_bucket, Key=item["Key"])
            s3_client.delete_bucket(Bucket=missing_bucket)


def test_a_download_cut_off_mid_multipart_upload_leaves_no_parts_or_object(
    slack_emulator: SlackEmulator,
    settings: Settings,
    s3_settings: Settings,
    s3_client: Any,
    s3_bucket: str,
    database_url: str,
) -> None:
    # 110 MB, cut at 55 MB: past the 50 MB multipart threshold, so parts are already up.
    file = slack_emulator.add_file(
        "big.pdf", size=110 * 1024 * 1024, mimetype="application/pdf", fail_download=True
    )
    roomy = settings.with_overrides(
        s3_bucket=s3_bucket, s3_endpoint_url=s3_settings.s3_endpoint_url, max_attachment_mb=200
    )

    with BackgroundServer(roomy) as server:
        reply = converse(slack_emulator, server, share(slack_emulator, file), timeout=60)

    assert "couldn't download *big.pdf*" in reply.text
    [row] = attachment_rows(database_url)
    assert (row["status"], row["error"]) == ("failed", "download_failed")
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_sharing_a_file_that_failed_again_tries_it_again_at_once(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    file = slack_emulator.add_file("plan.txt", content=NOTES, fail_download="500")
    first = share(slack_emulator, file)
    converse(slack_emulator, coachbot, first)
    slack_emulator.set_file_download(file["id"], fail_download=False)

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file, thread_ts=first["ts"]))

    assert "I've saved *plan.txt*" in reply.text
    [row] = attachment_rows(database_url)
    assert (row["status"], row["attempts"]) == ("stored", 2)


def test_sharing_a_refused_file_again_gives_the_same_answer(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    file = slack_emulator.add_file("empty.txt", content=b"")
    first = share(slack_emulator, file)
    converse(slack_emulator, coachbot, first)

    reply = converse(slack_emulator, coachbot, share(slack_emulator, file, thread_ts=first["ts"]))

    assert "*empty.txt* is empty" in reply.text
    assert len(attachment_rows(database_url)) == 1
