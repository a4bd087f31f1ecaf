"""Credentials never reach a log line, whoever logs them."""

import logging
import sys

from bot.operations.logs import RedactSecrets, redact, safe_error


def test_slack_and_openai_credentials_are_blanked() -> None:
    line = "token=xoxb-1234-5678-abcdef app=xapp-1-A1-2-zz key=sk-proj_abcdefghijklmnop"
    cleaned = redact(line)
    assert "1234-5678" not in cleaned
    assert "A1-2-zz" not in cleaned
    assert "abcdefghijklmnop" not in cleaned


def test_the_filter_rewrites_formatted_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling with %s", ("xoxb-999-secret",), None)
    RedactSecrets().filter(record)
    assert "999-secret" not in record.getMessage()


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_a_slack_error_shows_its_class_and_code_not_its_response() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(
        client=None, http_verb="POST", api_url="u", req_args={"text": "secret words"},
        data={"ok": False, "error": "msg_too_long", "echo": "secret words"}, headers={}, status_code=200,
    )  # fmt: skip
    shown = safe_error(SlackApiError("The server responded with: secret words", response))

    assert shown == "SlackApiError (error=msg_too_long)"


def test_a_database_error_shows_the_drivers_class_and_sqlstate_not_the_row() -> None:
    from sqlalchemy.exc import IntegrityError

    class UniqueViolation(Exception):
        sqlstate = "23505"
        constraint_name = "uq_message_slack_ts"

    error = IntegrityError(
        "INSERT …", {"text": "secret words"}, UniqueViolation("DETAIL: Key (text)=(secret words)")
    )

    assert safe_error(error) == (
        "IntegrityError (UniqueViolation; sqlstate=23505, constraint_name=uq_message_slack_ts)"
    )


def test_our_own_and_system_errors_keep_their_message() -> None:
    from bot.assembly.config import SettingsError

    assert (
        safe_error(SettingsError("REPORT_TIME must be HH:MM")) == "SettingsError: REPORT_TIME must be HH:MM"
    )
    assert safe_error(ConnectionRefusedError(111, "Connect call failed")) == (
        "ConnectionRefusedError: [Errno 111] Connect call failed"
    )
    assert safe_error(ValueError("secret words")) == "ValueError"
    missing = FileNotFoundError(2, "No such file or directory", "/files/T1/9/1/secret words.txt")
    assert safe_error(missing) == "FileNotFoundError: [Errno 2] No such file or directory"


def test_an_s3_error_shows_its_code() -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "NoSuchKey", "Message": "secret words"}}, "GetObject")

    assert safe_error(error) == "ClientError (code=NoSuchKey)"


def test_a_logged_traceback_keeps_its_frames_and_classes_but_no_text() -> None:
    words = "secret words"  # data, not source: a traceback shows source lines
    cause = _raised(KeyError(words))
    try:
        raise RuntimeError(words) from cause
    except RuntimeError as error:
        record = logging.LogRecord("lib", logging.ERROR, __file__, 1, "failed: %s", (error,), sys.exc_info())
        record.msg = f"lib says {error!r}: %s"
    RedactSecrets().filter(record)
    line = logging.Formatter("%(message)s").format(record)

    assert "secret words" not in line
    assert "Traceback (most recent call last)" in line and "test_logs.py" in line
    assert "KeyError" in line and "RuntimeError" in line
    assert "direct cause" in line
