"""coachbot's settings: one object, built from the environment and passed in.

Nothing in the project reads ``os.environ`` at import time; ``Settings.from_env``
is called once by the CLI (or by a test) and the result is handed to whatever
needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from sqlalchemy.exc import ArgumentError

from bot.conversation.model_fit import TOKEN_PARAMETERS
from bot.safety.crisis import DEFAULT_CRISIS_RESOURCES
from bot.safety.moderation import MODERATION_MODES
from storage.engine import async_url, database_url_from_env
from storage.files import FileStoreConfig

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting is present but unusable; each problem names its setting, in one line."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _bool(raw: str | None, default: bool = False) -> bool:
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Every knob coachbot has. See the README's settings table."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # OAuth installs (issue 11): with a client id the app serves any workspace that installs it,
    # each with its own token from the installation store; without one, SLACK_BOT_TOKEN's workspace.
    slack_client_id: str = ""
    slack_client_secret: str = ""
    slack_scopes: tuple[str, ...] = ()  # empty: the manifest's bot scopes (bot.installs.oauth)
    slack_redirect_uri: str | None = None
    uninstall_retention_days: int = 30

    openai_api_key: str = ""
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout: float = 60.0
    openai_max_tokens: int = 16000
    openai_max_retries: int = 2
    # "auto": images go to the model when OPENAI_MODEL is known to take them; "true"/"false" force it.
    openai_vision: str = "auto"
    # Issue 9: the reply-limit parameter ("auto" goes by the model's name) and the context window
    # (None: known by name, else unlimited), so current models and small-context servers work.
    openai_token_parameter: str = "auto"
    openai_context_window: int | None = None

    database_url: str = "sqlite:///coachbot.db"
    debug: bool = False

    host: str = "0.0.0.0"
    port: int = 3000
    log_level: str = "INFO"

    coach_system_prompt: str | None = None
    #: "auto": each coach message is checked with OpenAI's moderation endpoint (crisis care); "off".
    openai_moderation: str = "auto"
    #: Where a coach in crisis is pointed (bot.safety.crisis): emergency services and the EAP by default.
    crisis_resources: str = DEFAULT_CRISIS_RESOURCES
    context_token_budget: int = 12000
    listener_threads: int = 32

    stream_flush_interval_ms: int = 1000
    # Pace Slack calls by Slack's documented rate tiers (off: only Slack's own 429s pause a method).
    slack_rate_budget: bool = True
    reply_part_chars: int = 11000
    environment: str = "development"

    # Attachments (issue 3): S3 when a bucket is set, else a local folder behind the same interface.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    attachments_dir: str = "attachments"
    max_attachment_mb: int = 100
    public_url: str | None = None

    # Operations (issue 4).
    slow_request_ms: int = 1000
    perf_admin_ids: frozenset[str] = frozenset()
    metrics_token: str | None = None  # when set, GET /performance and /metrics need it as a bearer token
    report_channel_id: str | None = None
    report_timezone: str = "UTC"
    report_day_of_week: str = "mon"
    report_time: str = "09:00"
    # Sessions idle this long are deleted daily with their messages and files; 0 keeps them.
    retention_days: int = 365
    cache_cleanup_minutes: int = 5
    scheduler_enabled: bool = True
    # Durable turns: SIGTERM lets replies in flight finish this long; a turn's lease lasts this
    # long unless renewed (a dead process's turn is taken over after it); owed replies nobody
    # answers are looked for this often.
    shutdown_grace_seconds: float = 30.0
    turn_lease_seconds: float = 20.0
    recovery_interval_seconds: float = 10.0
    # Check-ins (issue 12): a commitment without a due date is asked about this many days after
    # it was made (one with a date, on that date).
    checkin_days: int = 7
    # Memory across sessions (issue 12): a session with no message for this long is wrapped up
    # by a job, and a new session's context gives the coach's memory up to 1/memory_share of
    # CONTEXT_TOKEN_BUDGET.
    session_idle_hours: float = 24.0
    memory_share: int = 5
    # MEMORY=off runs coachbot without memory at all (no wrap-ups, no /coach memory): each
    # coach can still turn their own off with /coach memory off.
    memory_enabled: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings, or a SettingsError naming every unusable one (never a traceback later)."""
        env = os.environ if env is None else env
        settings = cls._read(env)
        problems = settings.problems()
        if problems:
            raise SettingsError(*problems)
        return settings

    @classmethod
    def _read(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            slack_app_token=env.get("SLACK_APP_TOKEN", ""),
            slack_api_url=_with_trailing_slash(env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL),
            slack_client_id=env.get("SLACK_CLIENT_ID", ""),
            slack_client_secret=env.get("SLACK_CLIENT_SECRET", ""),
            slack_scopes=_words(env.get("SLACK_SCOPES")),
            slack_redirect_uri=env.get("SLACK_REDIRECT_URI") or None,
            uninstall_retention_days=_int(env, "UNINSTALL_RETENTION_DAYS", 30) or 0,
            openai_api_key=env.get("OPENAI_API_KEY", ""),
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_model=env.get("OPENAI_MODEL") or "gpt-4o-mini",
            openai_timeout=_float(env, "OPENAI_TIMEOUT", 60.0),
            openai_max_tokens=_int(env, "OPENAI_MAX_TOKENS", 16000) or 16000,
            openai_max_retries=_int(env, "OPENAI_MAX_RETRIES", 2) or 0,
            openai_vision=_vision(env.get("OPENAI_VISION")),
            openai_token_parameter=_token_parameter(env.get("OPENAI_TOKEN_PARAMETER")),
            openai_context_window=_positive(env, "OPENAI_CONTEXT_WINDOW"),
            database_url=database_url_from_env(env),
            debug=_bool(env.get("DEBUG")),
            host=env.get("HOST") or "0.0.0.0",
            port=_int(env, "PORT", 3000) or 3000,
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            coach_system_prompt=env.get("COACH_SYSTEM_PROMPT") or None,
            openai_moderation=_moderation(env.get("OPENAI_MODERATION")),
            crisis_resources=(env.get("CRISIS_RESOURCES") or "").replace("\\n", "\n").strip()
            or DEFAULT_CRISIS_RESOURCES,
            context_token_budget=_int(env, "CONTEXT_TOKEN_BUDGET", 12000) or 12000,
            listener_threads=_int(env, "LISTENER_THREADS", 32) or 32,
            stream_flush_interval_ms=_int(env, "STREAM_FLUSH_INTERVAL_MS", 1000) or 0,
            slack_rate_budget=_bool(env.get("SLACK_RATE_BUDGET"), default=True),
            reply_part_chars=_int(env, "REPLY_PART_CHARS", 11000) or 11000,
            environment=(env.get("ENVIRONMENT") or "development").lower(),
            s3_bucket=env.get("S3_BUCKET") or None,
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            s3_region=env.get("S3_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            attachments_dir=env.get("ATTACHMENTS_DIR") or "attachments",
            max_attachment_mb=_int(env, "MAX_ATTACHMENT_MB", 100) or 100,
            public_url=env.get("PUBLIC_URL") or None,
            slow_request_ms=_int(env, "SLOW_REQUEST_MS", 1000) or 1000,
            perf_admin_ids=_id_set(env.get("PERF_ADMIN_IDS")),
            metrics_token=env.get("METRICS_TOKEN") or None,
            report_channel_id=env.get("REPORT_CHANNEL_ID") or None,
            report_timezone=env.get("REPORT_TIMEZONE") or "UTC",
            report_day_of_week=(env.get("REPORT_DAY_OF_WEEK") or "mon").lower(),
            report_time=env.get("REPORT_TIME") or "09:00",
            retention_days=_int(env, "RETENTION_DAYS", 365) or 0,
            cache_cleanup_minutes=_int(env, "CACHE_CLEANUP_MINUTES", 5) or 5,
            scheduler_enabled=_bool(env.get("SCHEDULER_ENABLED"), default=True),
            shutdown_grace_seconds=_float(env, "SHUTDOWN_GRACE_SECONDS", 30.0),
            turn_lease_seconds=_float(env, "TURN_LEASE_SECONDS", 20.0),
            recovery_interval_seconds=_float(env, "RECOVERY_INTERVAL_SECONDS", 10.0),
            checkin_days=_int(env, "CHECKIN_DAYS", 7) or 0,
            session_idle_hours=_float(env, "SESSION_IDLE_HOURS", 24.0),
            memory_share=_int(env, "MEMORY_SHARE", 5) or 5,
            memory_enabled=_bool(env.get("MEMORY"), default=True),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed; handy for tests and the demo."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def file_store(self) -> FileStoreConfig:
        """The file store's settings as the plain values storage/ takes."""
        return FileStoreConfig(
            s3_bucket=self.s3_bucket,
            s3_region=self.s3_region,
            s3_endpoint_url=self.s3_endpoint_url,
            attachments_dir=self.attachments_dir,
            base_url=self.public_url or f"http://127.0.0.1:{self.port}",
            link_secret=self.slack_signing_secret or None,
        )

    @property
    def model_takes_images(self) -> bool:
        """Whether shared images go to the model as image input (``OPENAI_VISION``)."""
        if self.openai_vision == "auto":
            return model_takes_images(self.openai_model)
        return _bool(self.openai_vision)

    def problems(self) -> list[str]:
        """What is unusable in these settings, one line each (names the setting, never a secret)."""
        problems = []
        if self.log_level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        database = _database_url_problem(self.database_url)
        if database:
            problems.append(database)
        if self.checkin_days < 1:
            problems.append(
                f"CHECKIN_DAYS must be a whole number of days, 1 or more, got {self.checkin_days}"
            )
        if self.retention_days < 0:
            problems.append(f"RETENTION_DAYS must be 0 (keep forever) or more, got {self.retention_days}")
        if not 0 < self.port < 65536:
            problems.append(f"PORT must be between 1 and 65535, got {self.port}")
        for name, url in (("SLACK_API_URL", self.slack_api_url), ("OPENAI_BASE_URL", self.openai_base_url)):
            if url and urlsplit(url).scheme not in ("http", "https"):
                problems.append(f"{name} must be an http(s) URL")
        if not self.session_idle_hours > 0:
            problems.append(f"SESSION_IDLE_HOURS must be more than 0, got {self.session_idle_hours}")
        if not 1 < self.memory_share <= 100:
            problems.append(f"MEMORY_SHARE must be between 2 and 100, got {self.memory_share}")
        return problems

    @property
    def oauth_installs(self) -> bool:
        """Whether workspaces install the app (SLACK_CLIENT_ID set) rather than one SLACK_BOT_TOKEN."""
        return bool(self.slack_client_id)

    def missing_for_serving(self) -> list[str]:
        """Names of settings the HTTP server cannot start without."""
        missing = []
        if self.oauth_installs:
            if not self.slack_client_secret:
                missing.append("SLACK_CLIENT_SECRET")
        elif not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET")
        return missing


#: Model families that accept image input, for OPENAI_VISION=auto.
_VISION_MODEL_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-5", "o3", "o4")


def model_takes_images(model: str) -> bool:
    """gpt-4o*, gpt-4.1*, gpt-5*, o3*, o4* take images; other (or unknown) models get text only."""
    return model.strip().lower().startswith(_VISION_MODEL_PREFIXES)


def _vision(raw: str | None) -> str:
    value = (raw or "auto").strip().lower()
    if value in ("auto", ""):
        return "auto"
    if value in {"1", "true", "yes", "on"}:
        return "true"
    if value in {"0", "false", "no", "off"}:
        return "false"
    raise SettingsError(f"OPENAI_VISION must be auto, true or false, got {raw!r}")


def _moderation(raw: str | None) -> str:
    value = (raw or "auto").strip().lower()
    if value not in MODERATION_MODES:
        raise SettingsError(f"OPENAI_MODERATION must be one of {', '.join(MODERATION_MODES)}, got {raw!r}")
    return value


def _token_parameter(raw: str | None) -> str:
    value = (raw or "auto").strip().lower()
    if value not in TOKEN_PARAMETERS:
        choices = ", ".join(TOKEN_PARAMETERS)
        raise SettingsError(f"OPENAI_TOKEN_PARAMETER must be one of {choices}, got {raw!r}")
    return value


def _positive(env: Mapping[str, str], name: str) -> int | None:
    value = _int(env, name, None)
    if value is not None and value <= 0:
        raise SettingsError(f"{name} must be a positive number of tokens, got {value}")
    return value


def _words(raw: str | None) -> tuple[str, ...]:
    """``a, b c`` → ("a", "b", "c"): commas or spaces, blanks ignored, order kept."""
    return tuple(part for part in (raw or "").replace(",", " ").split() if part)


def _id_set(raw: str | None) -> frozenset[str]:
    """``U1, U2 U3`` → {"U1", "U2", "U3"}: commas or spaces, blanks ignored."""
    return frozenset(_words(raw))


def _database_url_problem(url: str) -> str | None:
    """Why DATABASE_URL cannot be used (the URL itself is never repeated: it may hold a password)."""
    try:
        async_url(url)
    except ArgumentError:
        return "DATABASE_URL is not a database URL; use sqlite:///path or postgresql://user@host/db"
    except ValueError as error:
        return f"DATABASE_URL: {error}"
    return None


def _with_trailing_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
