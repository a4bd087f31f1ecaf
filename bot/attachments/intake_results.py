"""What became of a message's files: the error codes kept in ``attachments.error``, the result of
an intake, and the one short line per file the coach reads in the thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.attachments.attachment_types import SUPPORTED_LABELS, human_size
from bot.attachments.file_listing import mrkdwn_escape
from bot.delivery.slack_files import SlackDownloadError, SlackFileIsLoginPage
from storage.attachments import AttachmentRecord
from storage.files import AttachmentTooLarge


class Error:
    """The short codes kept in ``attachments.error``."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    LOGIN_PAGE = "login_page"
    UNAVAILABLE = "unavailable"
    DOWNLOAD_FAILED = "download_failed"
    UPLOAD_FAILED = "upload_failed"
    SESSION_GONE = "session_gone"
    NOT_RECORDED = "not_recorded"  # the database failed before a row existed (never stored)


_RETRY_PROMISE = "I'll try again in a few minutes and tell you here."


@dataclass
class IntakeResult:
    """What became of a message's files, for the replies."""

    stored: list[str] = field(default_factory=list)  # names
    problems: list[str] = field(default_factory=list)  # one human line per file that wasn't stored
    retrying: int = 0  # of the problems, how many the retry job will try again
    files: list[AttachmentRecord] = field(default_factory=list)  # the stored rows: images go to the model

    @property
    def all_rejected(self) -> bool:
        """Nothing stored and nothing coming: the message brought nothing to read."""
        return not self.stored and not self.retrying


def confirmation_text(result: IntakeResult) -> str:
    """The reply to files shared without a word: what was saved, and what wasn't."""
    lines = []
    if result.stored:
        lines.append(
            f"Got it: I've saved {names_text(result.stored)}. Tell me what you'd like to work on with it."
        )
    lines.extend(result.problems)
    return "\n".join(lines)


def problems_text(result: IntakeResult) -> str:
    return "\n".join(result.problems)


def classify_failure(error: BaseException) -> tuple[str, bool]:
    """(error code, final) for a failed transfer, looking through the store's wrapping."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for cause in chain:
        if isinstance(cause, SlackFileIsLoginPage):
            return Error.LOGIN_PAGE, True
        if isinstance(cause, AttachmentTooLarge):
            return Error.TOO_LARGE, True
        if isinstance(cause, SlackDownloadError):
            return Error.DOWNLOAD_FAILED, False
    # FileStoreError, or anything unexpected on the way: worth another try later.
    return Error.UPLOAD_FAILED, False


def problem_text(code: str, name: str, *, size: int | None = None, max_mb: int | None = None) -> str:
    """One short line for the thread, per error code."""
    file = bold(name)
    if code == Error.EMPTY:
        return f"{file} is empty, so there was nothing to save."
    if code == Error.TOO_LARGE:
        limit = f"{max_mb} MB" if max_mb else "my size limit"
        if size:
            return f"{file} is {human_size(size)}; I can take files up to {limit}."
        return f"{file} is larger than {limit}, the most I can take."
    if code == Error.UNSUPPORTED:
        return f"I can't read {file}: I take {SUPPORTED_LABELS} files."
    if code == Error.LOGIN_PAGE:
        return (
            f"I couldn't download {file}: Slack sent me its sign-in page instead. My Slack app is "
            "probably missing the files:read permission; please tell your Slack admin."
        )
    if code == Error.UNAVAILABLE:
        return (
            f"I couldn't get {file} from Slack (it may be a link to another service, or deleted). "
            "Please upload the file itself."
        )
    if code == Error.DOWNLOAD_FAILED:
        return f"I couldn't download {file} from Slack just now. {_RETRY_PROMISE}"
    if code == Error.UPLOAD_FAILED:
        return f"I couldn't save {file} just now: my file storage didn't answer. {_RETRY_PROMISE}"
    if code == Error.NOT_RECORDED:
        return f"I couldn't save {file} just now. Please share it again in a minute."
    return f"I couldn't save {file}. Please share it again."


def gave_up_text(name: str) -> str:
    return f"I still couldn't save {bold(name)} after several tries. Please upload it again."


def name_of(file: Mapping[str, Any]) -> str:
    return str(file.get("name") or file.get("title") or file.get("id") or "your file")


def slack_mime(file: Mapping[str, Any]) -> str:
    return (
        str(file.get("mimetype") or "application/octet-stream").split(";", 1)[0].strip()
        or "application/octet-stream"
    )


def bold(name: str) -> str:
    return f"*{mrkdwn_escape(name)}*"


def names_text(names: Sequence[str]) -> str:
    shown = [bold(name) for name in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"


def chain_names(error: BaseException) -> str:
    cause = error.__cause__
    return f"{type(error).__name__}<-{type(cause).__name__}" if cause is not None else type(error).__name__
