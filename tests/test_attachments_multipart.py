"""A large shared file goes to S3 multipart from its first part, through the event path.

The intake passes Slack's ``size`` for the file to the file store, so s3transfer knows at once
that the file is large: it starts the multipart upload with the first 8 MB part instead of
buffering a whole threshold (50 MB) first to find out. The download from the emulator is held
at 16 MB (below the threshold); the multipart upload must already be under way by then.
Signed file_share events into the real app, moto's S3 server; SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import create_engine, text

from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from storage.files import s3_transfer_config
from tests.fixtures.waiting import eventually

MB = 1024 * 1024
DM = "D0COACH"
SIZE = 60 * MB  # above the 50 MB multipart threshold: 8 parts of 8 MB (the last one 4 MB)
HOLD_AT = 16 * MB


def stored_row(database_url: str) -> dict[str, Any] | None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT status, storage_key, sha256, size FROM attachments"))
            found = [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()
    return found[0] if found and found[0]["status"] == "stored" else None


def test_a_large_shared_file_goes_multipart_before_a_threshold_of_it_has_arrived(
    slack_emulator: SlackEmulator,
    s3_bot: BackgroundServer,
    s3_client: Any,
    s3_bucket: str,
    database_url: str,
    held_download_at: Any,
) -> None:
    assert s3_transfer_config().multipart_threshold > HOLD_AT
    file = slack_emulator.add_file("call-recording-notes.txt", size=SIZE, mimetype="text/plain")
    held = held_download_at(slack_emulator.origin, HOLD_AT)
    event = slack_emulator.file_share(channel=DM, files=[held.route(file)])

    assert slack_emulator.send_event(s3_bot.events_url, event).status == 200

    assert held.holding.wait(20), "the app should have read the first 16 MB"
    uploads = eventually(lambda: s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads"), 20)
    assert uploads, "with Slack's size, the multipart upload starts before 50 MB have arrived"
    assert held.sent <= HOLD_AT + 64 * 1024

    held.release()
    row = eventually(lambda: stored_row(database_url), 60)
    assert row is not None and row["size"] == SIZE
    head = s3_client.head_object(Bucket=s3_bucket, Key=row["storage_key"])
    assert head["ETag"].strip('"').endswith("-8"), "8 parts of 8 MB"
    assert row["sha256"] == slack_emulator.sha256_of(file["id"])
    body = s3_client.get_object(Bucket=s3_bucket, Key=row["storage_key"])["Body"]
    digest = hashlib.sha256()
    for piece in iter(lambda: body.read(MB), b""):
        digest.update(piece)
    assert digest.hexdigest() == row["sha256"]
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
