"""Logging set-up: one format, and no secrets in any log line.

Tokens can reach a log through a library's debug output or an exception's
text; the filter blanks anything shaped like a Slack or OpenAI credential
before a handler writes it. Message text is never logged by coachbot at INFO.
"""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-[A-Za-z0-9_-]{8,})")


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(0)[:5] + "…redacted", text)


class RedactSecrets(logging.Filter):
    """Rewrites the record's message with credentials blanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter that would include request bodies stays out unless asked for.
    if logging.getLevelName(level) > logging.DEBUG:
        for noisy in (
            "slack_sdk",
            "slack_bolt",
            "httpx",
            "httpx2",
            "openai",
            "aiohttp.access",
            "uvicorn.access",
            "alembic.runtime.plugins",  # one INFO line per plugin, on import
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)
