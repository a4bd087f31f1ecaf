"""The ``files`` command: a session's attachments, shown only to the coach who asks, with fresh links.

Over real HTTP like the rest: signed events into the app, the emulator as Slack, the local file
store (links served by the app's own signed ``/files`` route) or S3 on moto (presigned links).
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.attachments.attachment_types import human_size
from bot.attachments.file_listing import format_listing
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import RecordedCall, SlackEmulator
from storage.attachments import AttachmentRecord
from storage.conversations import SessionKey
from storage.engine import sync_url
from storage.models import utcnow
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually, wait_until_handled

T = TypeVar("T")
DM = "D0COACH"
CHANNEL = "C0LEADS"
NOTES = b"1:1 notes: Sam wants more ownership of the release process.\n"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def stored_message_texts(database_url: str) -> list[str]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT text FROM chat_messages ORDER BY id"))]
    finally:
        engine.dispose()


def links_in(listing: str) -> dict[str, str]:
    """``<url|name>`` pairs of a Slack mrkdwn listing, by name."""
    found = {}
    for part in listing.split("<")[1:]:
        url, _, rest = part.partition("|")
        found[rest.partition(">")[0]] = url
    return found


def open_channel_session(slack: SlackEmulator, bot: BackgroundServer) -> str:
    opener = slack.mention(channel=CHANNEL, text="Coach me through my 1:1s.")
    converse(slack, bot, opener)
    return opener["ts"]


def share_in_channel(
    slack: SlackEmulator, bot: BackgroundServer, thread_ts: str, name: str, content: bytes
) -> None:
    file = slack.add_file(name, content=content)
    event = slack.file_share(channel=CHANNEL, channel_type="channel", thread_ts=thread_ts, files=[file])
    converse(slack, bot, event)


def ask_for_files_in_channel(
    slack: SlackEmulator, bot: BackgroundServer, thread_ts: str, word: str = "files", user: str = "U0COACH"
) -> RecordedCall:
    before = len(slack.calls_to("chat.postEphemeral"))
    event = slack.user_says(
        channel=CHANNEL, channel_type="channel", thread_ts=thread_ts, text=word, user=user
    )
    assert slack.send_event(bot.events_url, event).status == 200
    calls = eventually(lambda: slack.calls_to("chat.postEphemeral")[before:])
    assert calls, "no ephemeral listing arrived"
    return calls[0]


def test_files_in_a_channel_session_is_an_ephemeral_listing_with_working_links(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
) -> None:
    thread_ts = open_channel_session(slack_emulator, coachbot)
    share_in_channel(slack_emulator, coachbot, thread_ts, "sam 1-1.txt", NOTES)
    model_calls = len(fake_openai.requests)

    listing = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts)

    assert listing.args["user"] == "U0COACH" and listing.args["thread_ts"] == thread_ts
    body = listing.args["text"]
    assert "*Files in this session* (1)" in body
    assert f"sam 1-1.txt> · {human_size(len(NOTES))} · saved" in body
    assert "Links work for 5 minutes" in body
    assert fetch(links_in(body)["sam 1-1.txt"]) == NOTES
    assert len(fake_openai.requests) == model_calls, "the listing never calls the model"
    assert "files" not in stored_message_texts(database_url), "the command is not coaching history"


def test_files_from_someone_other_than_the_coach_lists_nothing_and_gets_a_short_refusal(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    thread_ts = open_channel_session(slack_emulator, coachbot)
    share_in_channel(slack_emulator, coachbot, thread_ts, "sam 1-1.txt", NOTES)
    model_calls = len(fake_openai.requests)

    refusal = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts, user="U0OTHER")

    assert refusal.args["user"] == "U0OTHER"
    assert refusal.args["text"] == "Only the coach who started this session can list its files."
    assert "sam 1-1" not in refusal.args["text"] and "<" not in refusal.args["text"]
    assert slack_emulator.messages(CHANNEL)[-1].text != refusal.args["text"], "never posted for all to see"
    assert len(fake_openai.requests) == model_calls
    coach = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts)  # the coach still gets theirs
    assert coach.args["user"] == "U0COACH" and "sam 1-1.txt" in coach.args["text"]


def test_a_local_link_names_the_coach_and_works_only_as_made(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    thread_ts = open_channel_session(slack_emulator, coachbot)
    share_in_channel(slack_emulator, coachbot, thread_ts, "plan.txt", NOTES)
    link = links_in(ask_for_files_in_channel(slack_emulator, coachbot, thread_ts).args["text"])["plan.txt"]

    assert "u=U0COACH" in link
    assert fetch(link) == NOTES
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch(link.replace("u=U0COACH", "u=U0OTHER"))
    assert refused.value.code == 403


def test_files_in_a_dm_thread_is_posted_in_that_private_thread(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    file = slack_emulator.add_file("goals.md", content=b"# Goals\n", filetype="markdown")
    first = slack_emulator.file_share(channel=DM, files=[file])
    converse(slack_emulator, coachbot, first)

    reply = converse(
        slack_emulator, coachbot, slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="Files")
    )

    assert "*Files in this session* (1)" in reply.text
    assert fetch(links_in(reply.text)["goals.md"]) == b"# Goals\n"
    assert slack_emulator.calls_to("chat.postEphemeral") == []


def test_the_listing_is_cached_and_a_new_upload_clears_it(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
) -> None:
    cache = coachbot.runtime.attachments.listing_cache
    thread_ts = open_channel_session(slack_emulator, coachbot)
    share_in_channel(slack_emulator, coachbot, thread_ts, "first.txt", b"one")

    first = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts)
    hits = cache.hits
    again = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts)

    assert cache.hits == hits + 1, "the second listing is served from the cache"
    assert links_in(first.args["text"]).keys() == links_in(again.args["text"]).keys() == {"first.txt"}
    session_id = coachbot.run_coroutine(
        coachbot.runtime.store.find_session_id(SessionKey(slack_emulator.team_id, CHANNEL, thread_ts))
    )
    cached = cache.get(session_id)
    assert cached and all(isinstance(row, AttachmentRecord) for row in cached), "rows cached, never links"

    share_in_channel(slack_emulator, coachbot, thread_ts, "second.txt", b"two")
    after_upload = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts)

    assert list(links_in(after_upload.args["text"])) == ["second.txt", "first.txt"], "newest first"


def test_a_session_without_files_says_so(slack_emulator: SlackEmulator, coachbot: BackgroundServer) -> None:
    thread_ts = open_channel_session(slack_emulator, coachbot)

    listing = ask_for_files_in_channel(slack_emulator, coachbot, thread_ts, word="  FILES ")

    assert "no files in this session yet" in listing.args["text"]


def test_files_in_a_channel_thread_that_is_not_a_session_gets_no_answer(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    chatter = slack_emulator.user_says(channel=CHANNEL, channel_type="channel", text="lunch?")
    event = slack_emulator.user_says(
        channel=CHANNEL, channel_type="channel", thread_ts=chatter["ts"], text="files"
    )

    assert slack_emulator.send_event(coachbot.events_url, event).status == 200
    wait_until_handled(coachbot.url, 1)

    assert slack_emulator.calls_to("chat.postEphemeral") == []
    assert slack_emulator.replies_in(CHANNEL, chatter["ts"]) == []
    assert fake_openai.requests == []


def test_files_shown_from_s3_come_with_presigned_links_that_work(
    slack_emulator: SlackEmulator, settings: Settings, s3_settings: Settings
) -> None:
    s3 = settings.with_overrides(s3_bucket=s3_settings.s3_bucket, s3_endpoint_url=s3_settings.s3_endpoint_url)
    with BackgroundServer(s3) as bot:
        thread_ts = open_channel_session(slack_emulator, bot)
        share_in_channel(slack_emulator, bot, thread_ts, "notes.txt", NOTES)

        listing = ask_for_files_in_channel(slack_emulator, bot, thread_ts)

    link = links_in(listing.args["text"])["notes.txt"]
    assert "X-Amz-Expires=300" in link and "X-Amz-Signature=" in link
    assert fetch(link) == NOTES


def record(
    id: int, name: str, status: str, *, error: str | None = None, attempts: int = 1
) -> AttachmentRecord:
    now = utcnow()
    return AttachmentRecord(
        id=id,
        session_id=1,
        slack_file_id=f"F{id}",
        team_id="T1",
        user_id="U1",
        name=name,
        mime_type="text/plain",
        size=2048,
        sha256=None,
        storage_key=f"T1/1/{id}/{name}" if status == "stored" else None,
        status=status,
        error=error,
        attempts=attempts,
        created_at=now,
        updated_at=now,
    )


def test_the_listing_says_what_became_of_each_file_and_escapes_names() -> None:
    rows: list[Any] = [
        record(4, "<@U0BOSS> plan.txt", "stored"),
        record(3, "later.txt", "failed", error="download_failed"),
        record(2, "huge.pdf", "rejected", error="too_large"),
        record(1, "gone.txt", "failed", error="upload_failed", attempts=5),
    ]

    listing = format_listing(rows, {4: "https://files.example/plan"}, max_attempts=5, link_minutes=5)

    assert listing.splitlines() == [
        "*Files in this session* (4)",
        "• <https://files.example/plan|&lt;@U0BOSS&gt; plan.txt> · 2.0 KB · saved",
        "• later.txt · 2.0 KB · not saved yet: I'll try again",
        "• huge.pdf · 2.0 KB · not saved: too large",
        "• gone.txt · 2.0 KB · not saved: please share it again",
        "_Links work for 5 minutes; type `files` again for fresh ones._",
    ]
