"""No log line at INFO or above, from any logger, holds message text or a credential.

A canary word goes through every path a coach's words can take: a coaching turn (and the model's
reply), a refused signature, a malformed body, a database error, a model error, a Slack error, a
file share, an edit. Everything the process logs through its configured root handler (uvicorn's
lines included: they propagate to it) is scanned for the canary and for the bot token, the
signing secret and the OpenAI key. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json

from sqlalchemy import create_engine

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.conversation.turn_values import NOT_STORED_TEXT
from devkit import payloads
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

CANARY = "zebracanary"
DM = "D0COACH"

_SQLITE_REJECT = (
    "CREATE TRIGGER reject_canary BEFORE INSERT ON chat_messages "
    f"WHEN NEW.text LIKE '%{CANARY}%' BEGIN SELECT RAISE(ABORT, 'rejected'); END",
)
# PostgreSQL's error carries the rejected text itself, as a constraint's DETAIL would.
_PG_REJECT = (  # "%%": psycopg's placeholder escape
    "CREATE FUNCTION reject_canary() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"IF NEW.text LIKE '%%{CANARY}%%' THEN RAISE EXCEPTION 'rejected: %%', NEW.text "
    "USING DETAIL = 'Failing row contains ' || NEW.text; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER reject_canary BEFORE INSERT ON chat_messages "
    "FOR EACH ROW EXECUTE FUNCTION reject_canary()",
)


def run_sql(database_url: str, statements: tuple[str, ...]) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_a_canary_word_through_every_path_never_reaches_the_log(
    slack_emulator: SlackEmulator,
    fake_openai: FakeOpenAI,
    settings: Settings,
    database_url: str,
    log_output: io.StringIO,
) -> None:
    with BackgroundServer(settings) as server:
        url = server.events_url
        # a coaching turn, and the model's reply, both carrying the canary
        fake_openai.queue_reply(f"Let's talk about {CANARY} then.")
        opening = slack_emulator.user_says(channel=DM, text=f"My {CANARY} problem.")
        assert CANARY in converse(slack_emulator, server, opening).text
        thread = opening["ts"]

        # a refused signature and a malformed body
        body = json.dumps(slack_emulator.envelope(slack_emulator.user_says(channel=DM, text=CANARY))).encode()
        assert slack_emulator.post_signed(url, body, secret="not-the-secret").status == 401
        assert slack_emulator.post_signed(url, b'{"text": "' + CANARY.encode() + b'", ').status == 400

        # a model error whose body quotes the canary
        fake_openai.fail_next(
            500, times=5, body={"error": {"message": f"bad {CANARY}", "type": "server_error"}}
        )
        failed = converse(
            slack_emulator, server, slack_emulator.user_says(channel=DM, text="Again?", thread_ts=thread)
        )
        assert CANARY not in failed.text

        # a Slack error on the reply's stream
        slack_emulator.fail("chat.startStream", error="internal_error", status=200, retry_after=None)
        fake_openai.queue_reply(f"Still {CANARY}.")
        follow_up = slack_emulator.user_says(channel=DM, text=f"And {CANARY}?", thread_ts=thread)
        assert "Slack had trouble" in converse(slack_emulator, server, follow_up).text

        # a file share whose name and content hold the canary
        file = slack_emulator.add_file(f"{CANARY}.txt", content=f"notes on {CANARY}\n".encode())
        converse(
            slack_emulator, server, slack_emulator.file_share(channel=DM, files=[file], thread_ts=thread)
        )

        # an edit
        edit = payloads.message_changed_event(
            opening, new_text=f"My {CANARY} edit.", edited_at=slack_emulator.ts()
        )
        assert slack_emulator.send_event(url, edit).status == 200
        assert eventually(lambda: "Message edit" in log_output.getvalue())

        # a database error on the turn's write, its message quoting the canary on PostgreSQL
        run_sql(database_url, _PG_REJECT if database_url.startswith("postgresql") else _SQLITE_REJECT)
        rejected = slack_emulator.user_says(channel=DM, text=f"Save {CANARY}.", thread_ts=thread)
        assert converse(slack_emulator, server, rejected).text == NOT_STORED_TEXT

    logged = log_output.getvalue()

    assert "Could not store a coach message" in logged, "the database error was logged, safely"
    for secret in (CANARY, slack_emulator.bot_token, slack_emulator.signing_secret, fake_openai.api_key):
        leaking = [line for line in logged.splitlines() if secret in line]
        assert leaking == [], f"{secret!r} logged"
