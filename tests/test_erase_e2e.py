"""Delete my data, end to end: a signed ``/coach delete`` (or the App Home button) opens the
emulator's modal, a signed ``view_submission`` confirms it, and the coach's rows, stored files and
cache entries are gone, on SQLite and PostgreSQL, with the local store and with S3 (moto).

Another coach's data is untouched; a message Slack dated before the delete, redelivered (to this
replica or to a second one on the same database), stores and answers nothing; a message after
it starts afresh; a submission by anyone but the coach the modal was opened for deletes nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, update
from sqlalchemy.exc import OperationalError

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.agent_panel import GREETING
from bot.erase.blocks import DELETE_ACTION, FAILED_TEXT, REFUSED_TEXT, UNFINISHED_TEXT
from bot.memory.blocks import WRAP_UP_ACTION
from devkit import payloads
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Message, SlackEmulator
from storage.engine import sync_url
from storage.file_store import FileStoreError
from storage.memory_records import Coach
from storage.models import Base, coaching_sessions
from tests.fixtures.app import converse
from tests.fixtures.databases import query
from tests.fixtures.waiting import eventually, listener_runs, wait_until_handled

DM = "D0COACH"
OTHER, OTHER_DM = "U0ADMIN", "D0ADMIN"
NOTES = b"Goals for Q3: hire two engineers; ship the zeppelin roadmap.\n"
WRAP_UP = {
    "summary": "You want to delegate the weekly report.",
    "goals": ["Delegate the weekly report"],
    "commitments": [{"text": "I'll hand the report to Sam", "due_date": None, "status": "open"}],
    "remember": ["Prefers short answers"],
}
#: Rows that are no coach's data: delivery ids (no user, no text; what refuses a redelivery),
#: job claims, and the erasure record itself.
LEDGERS = ("processed_events", "job_runs", "coach_erasures")
WAITING_FOR_THE_TABLE = (
    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "WHERE c.relname = 'coaching_sessions' AND l.mode = 'ShareLock' AND NOT l.granted"
)


def table_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
                if table.name not in LEDGERS
            }
    finally:
        engine.dispose()


def coach_builds_a_history(slack: SlackEmulator, fake: FakeOpenAI, bot: BackgroundServer) -> Message:
    """A session with a file, wrapped up into memory, check-ins turned off, then a new session."""
    file = slack.add_file("q3 goals.txt", content=NOTES)
    converse(slack, bot, slack.file_share(channel=DM, files=[file], text="Here are my goals."))
    first = converse(slack, bot, slack.user_says(channel=DM, text="My goal is to delegate more."))
    fake.queue_json(WRAP_UP)
    before = len(slack.replies_in(DM, first.thread_ts or ""))
    slack.press_button(bot.events_url, action_id=WRAP_UP_ACTION, message=first)
    slack.wait_for_replies(DM, first.thread_ts or "", count=before + 1, timeout=15)
    slack.send_command(bot.events_url, "/coach", "checkins off", user_id="U0COACH", channel_id=DM)
    return converse(slack, bot, slack.user_says(channel=DM, text="Hi again, about hiring."))


def other_coach_builds_a_history(slack: SlackEmulator, bot: BackgroundServer) -> None:
    file = slack.add_file("theirs.txt", content=b"Someone else's zeppelin notes.\n", user=OTHER)
    event = slack.file_share(channel=OTHER_DM, files=[file], text="Mine.", user=OTHER)
    converse(slack, bot, event)


def delete_through_the_modal(slack: SlackEmulator, bot: BackgroundServer, *, user: str = "U0COACH") -> str:
    """``/coach delete``, then confirm the modal it opened; the text of the modal's last view."""
    opened = len(slack.opened_views)
    updates = len(slack.calls_to("views.update"))
    assert slack.send_command(bot.events_url, "/coach", "delete", user_id="U0COACH", channel_id=DM).ok
    modal = eventually(lambda: slack.opened_views[opened:])[0]
    assert modal["submit"]["text"] == "Delete everything" and "can't be undone" in json.dumps(modal)
    delivery = slack.submit_view(bot.events_url, modal, {}, user=user)
    assert delivery.ok
    if user != "U0COACH":
        return json.dumps(delivery.json())
    assert delivery.json()["response_action"] == "update"  # "Deleting…" at once
    update = eventually(lambda: slack.calls_to("views.update")[updates:])[0]
    assert update.args["view_id"] == modal["id"]
    view = slack.view(modal["id"])
    assert view is not None
    return json.dumps(update.args["view"])


def test_the_coach_deletes_everything_and_sees_the_counts_another_coachs_data_stays(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    settings: Settings,
    database_url: str,
) -> None:
    other_coach_builds_a_history(slack_emulator, coachbot)
    others_only = table_counts(database_url)
    others_files = sorted(Path(settings.attachments_dir).rglob("*.txt"))
    coach_builds_a_history(slack_emulator, fake_openai, coachbot)
    assert query(database_url, "SELECT count(*) FROM coach_commitments WHERE user_id = 'U0COACH'") == [(1,)]
    assert len(list(Path(settings.attachments_dir).rglob("*.txt"))) == 2

    shown = delete_through_the_modal(slack_emulator, coachbot)

    assert "Done. I deleted 3 sessions" in shown and "1 file" in shown and "4 memory items" in shown
    assert table_counts(database_url) == others_only, "every row of the coach, and only theirs"
    assert sorted(Path(settings.attachments_dir).rglob("*.txt")) == others_files
    assert query(database_url, "SELECT user_id FROM coach_erasures") == [("U0COACH",)]
    if database_url.startswith("sqlite"):  # the full-text index forgot the coach's file too
        assert query(
            database_url,
            "SELECT count(*) FROM attachment_chunks_fts WHERE attachment_chunks_fts MATCH 'hire'",
        ) == [(0,)]
    caches = coachbot.runtime.caches
    assert caches is not None and caches.get("memory").get(Coach(slack_emulator.team_id, "U0COACH")) is None


def test_with_s3_every_object_goes_and_unfinished_multipart_uploads_are_aborted(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    s3_bot: BackgroundServer,
    s3_client: Any,
    s3_bucket: str,
    database_url: str,
) -> None:
    other_coach_builds_a_history(slack_emulator, s3_bot)
    coach_builds_a_history(slack_emulator, fake_openai, s3_bot)
    (session_id,) = query(database_url, "SELECT session_id FROM attachments WHERE user_id = 'U0COACH'")[0]
    (theirs,) = query(database_url, "SELECT storage_key FROM attachments WHERE user_id = 'U0ADMIN'")[0]
    # A large upload still in flight into the coach's session when they confirm.
    s3_client.create_multipart_upload(
        Bucket=s3_bucket, Key=f"{slack_emulator.team_id}/{session_id}/99/big.bin"
    )

    shown = delete_through_the_modal(slack_emulator, s3_bot)

    assert "1 file" in shown
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert keys == [theirs]
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert query(database_url, "SELECT count(*) FROM attachments") == [(1,)]


def test_a_message_slack_dated_before_the_delete_is_neither_stored_nor_answered_on_any_replica(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    settings: Settings,
    database_url: str,
) -> None:
    with BackgroundServer(settings) as second:  # another replica on the same database
        reply = converse(slack_emulator, second, slack_emulator.user_says(channel=DM, text="Hello there."))
        late = slack_emulator.user_says(channel=DM, text="One more thing.", thread_ts=reply.thread_ts)
        delete_through_the_modal(slack_emulator, coachbot)
        served = fake_openai.served

        # Slack delivers a message sent before the delete (a retry, a slow delivery), to either replica.
        assert slack_emulator.send_event(second.events_url, late).ok
        assert slack_emulator.send_event(coachbot.events_url, {**late, "event_id": "Ev0LATE"}).ok
        second.run_coroutine(second.runtime.coaching.drain(5))
        coachbot.run_coroutine(coachbot.runtime.coaching.drain(5))
        assert second.run_coroutine(second.runtime.recovery.sweep()) == 0  # nothing owed survives

        assert query(database_url, "SELECT count(*) FROM chat_messages") == [(0,)]
        assert query(database_url, "SELECT count(*) FROM coaching_sessions") == [(0,)]
        assert fake_openai.served == served, "no model call for it"

        # A message sent after the delete starts afresh, in the same thread, on the replica that
        # had the old session cached.
        fresh = converse(
            slack_emulator,
            second,
            slack_emulator.user_says(channel=DM, text="Starting over.", thread_ts=reply.thread_ts),
        )
        assert fresh.text
        sent = [m["content"] for m in fake_openai.requests[-1].body["messages"] if m["role"] != "system"]
        assert sent == ["Starting over."]
        assert query(database_url, "SELECT count(*) FROM chat_messages WHERE message_type = 'user'") == [(1,)]


def test_a_reply_owed_when_the_delete_lands_is_never_answered_by_any_replica(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings, database_url: str, db: Engine
) -> None:
    quiet = settings.with_overrides(recovery_interval_seconds=3600.0)  # sweeps only when asked here
    with BackgroundServer(quiet) as first, BackgroundServer(quiet) as second:
        converse(slack_emulator, first, slack_emulator.user_says(channel=DM, text="Hello there."))
        # The turn died before answering its newest message (a replica killed), its lease free.
        with db.begin() as connection:
            connection.execute(
                update(coaching_sessions).values(
                    coach_seq=coaching_sessions.c.answered_seq + 1, lease_owner=None, lease_expires_at=None
                )
            )
        assert query(
            database_url, "SELECT count(*) FROM coaching_sessions WHERE coach_seq > answered_seq"
        ) == [(1,)]
        served = fake_openai.served

        delete_through_the_modal(slack_emulator, first)

        assert first.run_coroutine(first.runtime.recovery.sweep()) == 0
        assert second.run_coroutine(second.runtime.recovery.sweep()) == 0
        assert fake_openai.served == served
        assert query(database_url, "SELECT count(*) FROM chat_messages") == [(0,)]


def test_a_write_already_under_way_when_the_delete_is_recorded_is_waited_for_and_deleted(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    engine = create_engine(sync_url(database_url))
    writer = engine.connect()  # a coach's message being stored, its snapshot older than the record
    try:
        writer.execute(
            coaching_sessions.insert().values(
                team_id=slack_emulator.team_id,
                channel_id=DM,
                thread_ts="1764590000.000100",
                user_id="U0COACH",
            )
        )
        opened, updates = len(slack_emulator.opened_views), len(slack_emulator.calls_to("views.update"))
        slack_emulator.send_command(coachbot.events_url, "/coach", "delete", user_id="U0COACH", channel_id=DM)
        modal = eventually(lambda: slack_emulator.opened_views[opened:])[0]
        assert slack_emulator.submit_view(coachbot.events_url, modal, {}).ok
        if database_url.startswith("postgresql"):  # the delete waits for it (SQLite: for its lock)
            assert eventually(lambda: query(database_url, WAITING_FOR_THE_TABLE) == [(1,)])
        writer.commit()
    finally:
        writer.close()
        engine.dispose()

    assert eventually(lambda: slack_emulator.calls_to("views.update")[updates:], timeout=10)
    assert query(database_url, "SELECT count(*) FROM coaching_sessions") == [(0,)]


def test_a_reply_still_streaming_when_the_delete_lands_is_not_stored(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_openai.stall_next(2.0)  # the model is still thinking when the coach confirms
    asked = len(fake_openai.requests)
    event = slack_emulator.user_says(channel=DM, text="Tell me something long.")
    assert slack_emulator.send_event(coachbot.events_url, event).ok
    assert eventually(lambda: len(fake_openai.requests) > asked)

    delete_through_the_modal(slack_emulator, coachbot)
    slack_emulator.wait_for_replies(DM, event["ts"], count=1, timeout=15)  # Slack shows it; it is theirs
    coachbot.run_coroutine(coachbot.runtime.coaching.drain(10))

    assert query(database_url, "SELECT count(*) FROM chat_messages") == [(0,)]
    assert query(database_url, "SELECT count(*) FROM coaching_sessions") == [(0,)]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [], "it simply stops"


def test_a_wrap_up_under_way_when_the_delete_lands_brings_no_memory_back(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="My goal is focus."))
    fake_openai.queue_json(WRAP_UP)
    fake_openai.stall_next(2.0)  # the summary is being written when the coach confirms
    asked, runs = len(fake_openai.requests), listener_runs(coachbot.url)
    slack_emulator.press_button(coachbot.events_url, action_id=WRAP_UP_ACTION, message=reply)
    assert eventually(lambda: len(fake_openai.requests) > asked)

    delete_through_the_modal(slack_emulator, coachbot)
    wait_until_handled(coachbot.url, runs + 3)  # the press (its wrap-up done), the command, the submission

    assert table_counts(database_url) == {name: 0 for name in table_counts(database_url)}
    assert not [m for m in slack_emulator.replies_in(DM, reply.thread_ts or "") if "wrapped up" in m.text]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [], "it simply stops"


def test_when_the_file_store_fails_everything_stays_to_be_deleted_by_trying_again(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    coachbot: BackgroundServer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = slack_emulator.add_file("q3 goals.txt", content=NOTES)
    converse(slack_emulator, coachbot, slack_emulator.file_share(channel=DM, files=[file], text="Mine."))
    before = table_counts(database_url)
    files = coachbot.runtime.files
    assert files is not None

    async def unavailable(prefix: str) -> int:
        raise FileStoreError("delete failed: EndpointConnectionError")

    with monkeypatch.context() as patch:
        patch.setattr(files, "delete_prefix", unavailable)
        shown = delete_through_the_modal(slack_emulator, coachbot)

    assert FAILED_TEXT.split(" (")[0] in shown
    assert table_counts(database_url) == before
    assert "Done. I deleted 1 session" in delete_through_the_modal(slack_emulator, coachbot)
    assert query(database_url, "SELECT count(*) FROM attachments") == [(0,)]


def test_the_coach_is_greeted_again_after_the_delete_as_a_new_coach(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    def open_tab() -> None:
        event = payloads.app_home_opened_event(
            user="U0COACH", channel=DM, tab="messages", event_ts=slack_emulator.ts()
        )
        assert slack_emulator.send_event(coachbot.events_url, event).ok

    def greetings() -> int:
        return len([m for m in slack_emulator.messages(DM) if m.is_bot and m.text == GREETING])

    open_tab()
    assert eventually(lambda: greetings() == 1)
    assert query(database_url, "SELECT count(*) FROM processed_events WHERE event_id LIKE 'greeting:%'") == [
        (1,)
    ]

    delete_through_the_modal(slack_emulator, coachbot)

    assert query(database_url, "SELECT count(*) FROM processed_events WHERE event_id LIKE 'greeting:%'") == [
        (0,)
    ]
    open_tab()
    assert eventually(lambda: greetings() == 2), "they start fresh"


def test_when_the_modal_is_gone_the_counts_come_in_the_coachs_dm(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hello there."))
    slack_emulator.fail("views.update", error="not_found", status=200, retry_after=None)
    opened = len(slack_emulator.opened_views)
    slack_emulator.send_command(coachbot.events_url, "/coach", "delete", user_id="U0COACH", channel_id=DM)
    modal = eventually(lambda: slack_emulator.opened_views[opened:])[0]

    assert slack_emulator.submit_view(coachbot.events_url, modal, {}).ok

    told = eventually(
        lambda: [m for m in slack_emulator.messages(DM) if m.text.startswith("Done. I deleted")]
    )
    assert told and "1 session" in told[0].text and told[0].thread_ts is None
    assert [c.args["users"] for c in slack_emulator.calls_to("conversations.open")] == ["U0COACH"]


def test_when_the_database_fails_mid_delete_the_coach_is_told_to_try_again(
    slack_emulator: SlackEmulator,
    coachbot: BackgroundServer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hello there."))
    before = table_counts(database_url)

    def database_away(conn: Any, coach: Coach) -> None:
        raise OperationalError("DELETE …", {}, ConnectionResetError())

    with monkeypatch.context() as patch:
        patch.setattr("bot.erase.service.erase_rows", database_away)
        shown = delete_through_the_modal(slack_emulator, coachbot)

    assert UNFINISHED_TEXT.split(". ")[0] in shown
    assert table_counts(database_url) == before, "the rows' transaction never committed"
    assert "Done. I deleted 1 session" in delete_through_the_modal(slack_emulator, coachbot)


def test_a_submission_by_anyone_but_the_coach_it_was_opened_for_deletes_nothing(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hello there."))
    before = table_counts(database_url)

    answer = delete_through_the_modal(slack_emulator, coachbot, user=OTHER)

    assert REFUSED_TEXT in answer
    assert table_counts(database_url) == before
    assert query(database_url, "SELECT count(*) FROM coach_erasures") == [(0,)]


def test_the_app_home_button_opens_the_same_confirmation(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, database_url: str
) -> None:
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Hello there."))
    home = [{"type": "actions", "block_id": "data", "elements": [_button()]}]

    slack_emulator.press_button(
        coachbot.events_url, action_id=DELETE_ACTION, ephemeral_blocks=home, channel=DM
    )
    modal = eventually(lambda: slack_emulator.opened_views)[-1]
    slack_emulator.submit_view(coachbot.events_url, modal, {})

    assert eventually(lambda: query(database_url, "SELECT count(*) FROM coaching_sessions") == [(0,)])


def _button() -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": DELETE_ACTION,
        "text": {"type": "plain_text", "text": "Delete my data"},
        "value": "",
    }
