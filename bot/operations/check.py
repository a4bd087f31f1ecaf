"""``coachbot check``: every part of the configuration tried against the real service.

Slack (auth.test, and the token's scopes from its ``x-oauth-scopes`` header against
manifest.yml's bot scopes), the model (a one-token completion), the database (it answers,
and its migrations are current) and the attachment store (the S3 bucket answers
head_bucket, or the local folder is writable) are checked at once. Each problem is one line
that starts with the setting to change; no line holds a token or a password.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import yaml
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.assembly.config import Settings
from bot.conversation.llm import model_fit
from bot.operations.config_errors import openai_problem, slack_problem
from storage.migrate import current_revision, head_revision

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "manifest.yml"
SLACK_TIMEOUT = 10
MODEL_TIMEOUT = 30.0
DATABASE_CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class Finding:
    """One line of the check's report: a problem (``ok`` False) or what was found working."""

    ok: bool
    line: str


def _problem(line: str) -> Finding:
    return Finding(False, line)


async def run_checks(settings: Settings, *, manifest: Path = MANIFEST_PATH) -> list[Finding]:
    """All checks, concurrently; the findings in a fixed order (Slack, model, database, files)."""
    groups = await asyncio.gather(
        check_slack(settings, manifest),
        check_model(settings),
        asyncio.to_thread(check_database, settings.database_url),
        check_files(settings),
    )
    return [finding for group in groups for finding in group]


# ---------------------------------------------------------------------- Slack


def manifest_bot_scopes(path: Path) -> frozenset[str] | None:
    """The bot scopes manifest.yml asks for; None when the manifest isn't beside the code."""
    if not path.is_file():
        return None
    manifest = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    scopes = ((manifest.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
    return frozenset(str(scope) for scope in scopes)


def granted_scopes(headers: Any) -> frozenset[str] | None:
    """The token's scopes, from the ``x-oauth-scopes`` header Slack sends with each answer."""
    raw = headers.get("x-oauth-scopes") if headers is not None else None
    if raw is None:
        return None
    return frozenset(part.strip() for part in str(raw).split(",") if part.strip())


async def check_slack(settings: Settings, manifest: Path = MANIFEST_PATH) -> list[Finding]:
    findings = []
    if not settings.slack_signing_secret:
        findings.append(_problem("SLACK_SIGNING_SECRET: not set; coachbot serve needs it to verify Slack"))
    if not settings.slack_bot_token:
        return [*findings, _problem("SLACK_BOT_TOKEN: not set")]
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=[],
    )
    try:
        response = await client.auth_test()
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
        return [*findings, _slack_refusal("auth.test", "SLACK_BOT_TOKEN", settings, error)]
    who = f"Slack: workspace {response.get('team')} ({response.get('team_id')}) as {response.get('user_id')}"
    wanted, granted = manifest_bot_scopes(manifest), granted_scopes(response.headers)
    if wanted is None:
        findings.append(Finding(True, f"{who}; scopes not compared (no manifest.yml beside the code)"))
    elif granted is None:
        findings.append(Finding(True, f"{who}; Slack did not list the token's scopes"))
    elif missing := sorted(wanted - granted):
        findings.append(
            _problem(
                f"SLACK_BOT_TOKEN: the Slack app lacks the scope{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} that manifest.yml asks for; add them and reinstall the app"
            )
        )
    else:
        findings.append(Finding(True, f"{who}; all {len(wanted)} scopes of manifest.yml granted"))
    if settings.slack_app_token:
        findings.append(await _check_app_token(client, settings.slack_app_token, settings))
    return findings


async def _check_app_token(client: AsyncWebClient, app_token: str, settings: Settings) -> Finding:
    """Socket Mode's token: apps.connections.open hands out a URL (left unused; it expires)."""
    try:
        await client.apps_connections_open(app_token=app_token)
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
        return _slack_refusal("apps.connections.open", "SLACK_APP_TOKEN", settings, error)
    return Finding(True, "Socket Mode: SLACK_APP_TOKEN accepted (apps.connections.open)")


def _slack_refusal(method: str, setting: str, settings: Settings, error: Exception) -> Finding:
    """A Slack call that failed: Slack's refusal (naming its setting), or Slack not answering."""
    if not isinstance(error, SlackApiError):
        where = settings.slack_api_url
        return _problem(f"SLACK_API_URL: Slack did not answer {method} at {where} ({type(error).__name__})")
    problem = slack_problem(method, error.response.data)
    code = error.response.get("error") or f"HTTP {error.response.status_code}"
    return _problem(problem.line() if problem else f"{setting}: {method} failed ({code})")


# ---------------------------------------------------------------------- the model


def one_token_limit(settings: Settings) -> dict[str, int]:
    """The reply limit for the probe, spelled as the turn spells it for this model."""
    return {model_fit(settings).token_parameter: 1}


async def check_model(settings: Settings) -> list[Finding]:
    if not settings.openai_api_key:
        return [_problem("OPENAI_API_KEY: not set")]
    where = settings.openai_base_url or "OpenAI"
    client = openai.AsyncOpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=min(settings.openai_timeout, MODEL_TIMEOUT),
        max_retries=0,
    )
    try:
        await client.chat.completions.create(
            model=settings.openai_model,
            messages=[{"role": "user", "content": "Reply with OK."}],
            **one_token_limit(settings),
        )
    except openai.APIStatusError as error:
        problem = openai_problem(error, model=settings.openai_model)
        if problem is not None:
            return [_problem(problem.line())]
        if error.code == "insufficient_quota":
            return [_problem("OPENAI_API_KEY: the key's account has no quota left (429 insufficient_quota)")]
        return [_problem(f"OPENAI_BASE_URL: the model server answered HTTP {error.status_code}; try again")]
    except openai.APIConnectionError as error:  # includes timeouts
        line = f"OPENAI_BASE_URL: the model server did not answer at {where} ({type(error).__name__})"
        return [_problem(line)]
    finally:
        await client.close()
    return [Finding(True, f"Model: {settings.openai_model} answered at {where}")]


# ---------------------------------------------------------------------- the database


def safe_database_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def describe_database_error(error: BaseException) -> str:
    """The driver's own first line (connection refused, no such database…), never the URL's password."""
    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return first.strip()


def check_database(url: str) -> list[Finding]:
    """Blocking (Alembic and the sync drivers): run it in a thread."""
    shown = safe_database_url(url)
    parsed = make_url(url)
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if sqlite_file and not sqlite_file.startswith(":memory") and not Path(sqlite_file).exists():
        return [_problem(f"DATABASE_URL: {shown} does not exist yet; run `coachbot migrate`")]
    try:
        revision = current_revision(url, connect_timeout=DATABASE_CONNECT_TIMEOUT)
    except SQLAlchemyError as error:
        return [_problem(f"DATABASE_URL: cannot use {shown} ({describe_database_error(error)})")]
    head = head_revision()
    if revision != head:
        return [
            _problem(
                f"DATABASE_URL: {shown} is at revision {revision or 'none'}, this code needs {head}; "
                "run `coachbot migrate`"
            )
        ]
    return [Finding(True, f"Database: {shown} at revision {head} (current)")]


# ---------------------------------------------------------------------- attachments


async def check_files(settings: Settings) -> list[Finding]:
    if settings.s3_bucket:
        return [await asyncio.to_thread(_check_bucket, settings)]
    return [_check_folder(Path(settings.attachments_dir))]


def _check_bucket(settings: Settings) -> Finding:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from storage.files import build_s3_client

    bucket = settings.s3_bucket
    client = build_s3_client(settings)
    try:
        client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return _problem("S3_BUCKET: boto3 found no AWS credentials (environment, profile or instance role)")
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return _problem(f"S3_BUCKET: the bucket {bucket!r} does not exist (in {settings.s3_region})")
        if code in ("403", "AccessDenied"):
            return _problem(f"S3_BUCKET: these AWS credentials may not use the bucket {bucket!r} (403)")
        return _problem(f"S3_BUCKET: head_bucket on {bucket!r} failed ({code or type(error).__name__})")
    except BotoCoreError as error:
        where = settings.s3_endpoint_url or "AWS"
        return _problem(f"S3_ENDPOINT_URL: S3 did not answer at {where} ({type(error).__name__})")
    finally:
        client.close()
    return Finding(True, f"Attachments: S3 bucket {bucket} answers")


def _check_folder(folder: Path) -> Finding:
    """The local store's folder is writable, or can be created where it is configured."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return _problem(f"ATTACHMENTS_DIR: {folder} cannot be created: {existing} is a file")
    if existing != folder:
        if not os.access(existing, os.W_OK | os.X_OK):
            return _problem(f"ATTACHMENTS_DIR: {folder} cannot be created: {existing} is not writable")
        return Finding(True, f"Attachments: {folder} will be created (no S3_BUCKET set)")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".coachbot-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return _problem(f"ATTACHMENTS_DIR: cannot write to {folder} ({reason})")
    return Finding(True, f"Attachments: local folder {folder} is writable (no S3_BUCKET set)")
