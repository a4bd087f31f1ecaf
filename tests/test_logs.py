"""Credentials never reach a log line, whoever logs them."""

import logging

from bot.logs import RedactSecrets, redact


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
