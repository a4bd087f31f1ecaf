"""Logging set-up: one format, and no message text or secrets in any log line.

Coachbot itself never logs message text at INFO or above. Libraries can: an exception's text
carries what the failed call was about (asyncpg's ``DETAIL: Key (…)=(value)``, a Slack error's
response, an OpenAI error's body), and libraries put those texts into their own lines
(``f"… (error: {error})"``, asyncio's ``exception=…`` repr). So the handler's filter rewrites
every record before any formatter sees it: an exception becomes its class and machine-readable
code (``safe_error``), in the message, in its arguments and in the traceback, and anything shaped
like a Slack or OpenAI credential is blanked.
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType
from typing import Any

from sqlalchemy.exc import SQLAlchemyError, StatementError

_SECRET = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-[A-Za-z0-9_-]{8,})")

#: Libraries whose INFO lines carry request bodies or URLs with data; WARNING and up still show.
NOISY_LIBRARIES = (
    "slack_sdk",
    "slack_bolt",
    "httpx",
    "httpx2",
    "openai",
    "aiohttp.access",
    "uvicorn.access",
    "alembic.runtime.plugins",  # one INFO line per plugin, on import
)
#: Our own packages: their exceptions' messages are written to be shown (a setting's name, a limit).
_OWN_PACKAGES = ("bot.", "storage.", "jobs.", "handlers.")
#: Exceptions whose text is about the system (an address, a timeout), never about a message.
_SYSTEM_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError)
#: Identifiers a database error may carry: names from the schema, never values.
_DB_FIELDS = ("sqlstate", "constraint_name", "table_name", "column_name")


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(0)[:5] + "…redacted", text)


def _error_code(error: BaseException) -> str:
    """The machine-readable part of a library's error: a Slack error code, an HTTP status, a SQLSTATE."""
    parts: list[str] = []
    response = getattr(error, "response", None)
    slack_error = response.get("error") if hasattr(response, "get") and not callable(response) else None
    if slack_error is None and response is not None and hasattr(response, "data"):
        data = getattr(response, "data", None)
        slack_error = data.get("error") if isinstance(data, dict) else None
    if isinstance(slack_error, str):
        parts.append(f"error={slack_error}")
    aws_error = response.get("Error") if isinstance(response, dict) else None  # botocore
    if isinstance(aws_error, dict) and isinstance(aws_error.get("Code"), str):
        parts.append(f"code={aws_error['Code']}")
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        parts.append(f"status={status}")
    diag = getattr(error, "diag", None)  # psycopg
    for source in (error, diag):
        for field in _DB_FIELDS:
            value = getattr(source, field, None)
            if isinstance(value, str) and value:
                parts.append(f"{field}={value}")
    return ", ".join(dict.fromkeys(parts))


def safe_error(error: BaseException) -> str:
    """An exception as a log may show it: its class, its code and, for a DB error, the driver's class.

    Messages are kept only where they are about the system rather than a message: our own
    exceptions and OS-level errors. ``str(error)`` of a library error is never used.
    """
    name = type(error).__name__
    module = type(error).__module__ + "."
    if isinstance(error, OSError) and error.errno is not None:  # never its file name: a coach's
        return f"{name}: [Errno {error.errno}] {error.strerror}"
    if module.startswith(_OWN_PACKAGES) or isinstance(error, _SYSTEM_ERRORS) or _is_about_code(error):
        text = str(error)
        return redact(f"{name}: {text}") if text else name
    details = []
    original = getattr(error, "orig", None)  # SQLAlchemy wraps the driver's error
    if isinstance(original, BaseException):
        details.append(type(original).__name__)
        code = _error_code(original)
    else:
        code = _error_code(error)
    if code:
        details.append(code)
    return f"{name} ({'; '.join(details)})" if details else name


def _is_about_code(error: BaseException) -> bool:
    """SQLAlchemy's own errors (a statement that does not compile…) describe code, not data;
    a failed statement's (``StatementError``) quotes the driver's message, which may hold values."""
    return isinstance(error, SQLAlchemyError) and not isinstance(error, StatementError)


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts, outermost last (the order Python prints them)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return list(reversed(seen))


def safe_traceback(error: BaseException, tb: TracebackType | None = None) -> str:
    """A traceback with every frame, where each exception line is ``safe_error`` instead of its text."""
    lines: list[str] = []
    chain = _chain(error)
    for index, link in enumerate(chain):
        if index:
            caused = chain[index].__cause__ is chain[index - 1]
            lines.append(
                "\nThe above exception was the direct cause of the following exception:\n\n"
                if caused
                else "\nDuring handling of the above exception, another exception occurred:\n\n"
            )
        frames = link.__traceback__ if link is not error or tb is None else tb
        if frames is not None:
            lines.append("Traceback (most recent call last):\n")
            lines.extend(traceback.format_tb(frames))
        lines.append(safe_error(link) + "\n")
    return "".join(lines).rstrip("\n")


def _unsafe_texts(error: BaseException) -> list[str]:
    """What a library may have pasted of this exception chain into its own line."""
    texts: list[str] = []
    for link in _chain(error):
        for text in (repr(link), str(link)):
            if len(text) > 3 and text != type(link).__name__:
                texts.append(text)
    return sorted(set(texts), key=len, reverse=True)


class RedactSecrets(logging.Filter):
    """Rewrites each record: exceptions shown safely (``safe_error``), credentials blanked.

    On a handler, so it covers every logger that propagates to it; it fills ``exc_text``, which
    every ``logging.Formatter`` prints instead of formatting the traceback itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        args = record.args
        if isinstance(args, tuple) and any(isinstance(arg, BaseException) for arg in args):
            record.args = tuple(safe_error(a) if isinstance(a, BaseException) else a for a in args)
        elif isinstance(args, dict) and any(isinstance(arg, BaseException) for arg in args.values()):
            record.args = {k: safe_error(v) if isinstance(v, BaseException) else v for k, v in args.items()}
        message = record.getMessage()
        cleaned = message
        if isinstance(error, BaseException):
            for text in _unsafe_texts(error):
                cleaned = cleaned.replace(text, safe_error(error))
            assert record.exc_info is not None
            record.exc_text = redact(safe_traceback(error, record.exc_info[2]))
        cleaned = redact(cleaned)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def safe_handler(handler: logging.Handler) -> logging.Handler:
    """``handler`` with coachbot's format and filter."""
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    return handler


def quiet_libraries(level: str | int) -> None:
    """Library loggers whose INFO lines would include request bodies stay at WARNING, unless DEBUG."""
    numeric = level if isinstance(level, int) else logging.getLevelName(level)
    if isinstance(numeric, int) and numeric > logging.DEBUG:
        for noisy in NOISY_LIBRARIES:
            logging.getLogger(noisy).setLevel(logging.WARNING)


def configure_logging(level: str, stream: Any = None) -> None:
    root = logging.getLogger()
    root.handlers[:] = [safe_handler(logging.StreamHandler(stream))]
    root.setLevel(level)
    quiet_libraries(level)
