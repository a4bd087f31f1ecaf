"""Settings come from the environment, with the performance guide's names."""

import pytest

from bot.assembly.config import Settings, SettingsError


def test_defaults_are_usable_for_local_development() -> None:
    settings = Settings.from_env({})
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.openai_timeout == 60.0
    assert settings.openai_max_tokens == 16000
    assert settings.port == 3000
    assert settings.database_url == "sqlite:///coachbot.db"
    assert settings.slack_api_url == "https://slack.com/api/"


def test_database_url_wins_over_everything() -> None:
    env = {"DATABASE_URL": "postgresql://x@y/z", "ENVIRONMENT": "production", "SQLITE_DB_PATH": "a.db"}
    assert Settings.from_env(env).database_url == "postgresql://x@y/z"


def test_production_builds_a_postgresql_url_from_db_settings() -> None:
    env = {
        "ENVIRONMENT": "production",
        "DB_USER": "coach",
        "DB_PASSWORD": "p@ss word",
        "DB_HOST": "db.internal",
        "DB_PORT": "6432",
        "DB_NAME": "ai_coaching",
    }
    assert (
        Settings.from_env(env).database_url == "postgresql://coach:p%40ss+word@db.internal:6432/ai_coaching"
    )


def test_development_uses_the_sqlite_path() -> None:
    assert Settings.from_env({"SQLITE_DB_PATH": "/tmp/x.db"}).database_url == "sqlite:////tmp/x.db"


def test_slack_api_url_always_ends_with_a_slash() -> None:
    assert (
        Settings.from_env({"SLACK_API_URL": "http://127.0.0.1:9/api"}).slack_api_url
        == "http://127.0.0.1:9/api/"
    )


def test_a_malformed_number_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="OPENAI_TIMEOUT"):
        Settings.from_env({"OPENAI_TIMEOUT": "soon"})


def test_attachment_and_operations_settings_have_safe_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.s3_bucket is None
    assert settings.max_attachment_mb == 100
    assert settings.slow_request_ms == 1000
    assert settings.perf_admin_ids == frozenset()
    assert settings.retention_days == 365  # a year; RETENTION_DAYS=0 keeps everything


def test_retention_keeps_a_year_by_default_and_zero_keeps_everything() -> None:
    assert Settings.from_env({"RETENTION_DAYS": "90"}).retention_days == 90
    assert Settings.from_env({"RETENTION_DAYS": "0"}).retention_days == 0
    assert Settings.from_env({"RETENTION_DAYS": ""}).retention_days == 365
    with pytest.raises(SettingsError, match=r"RETENTION_DAYS must be 0 \(keep forever\) or more, got -1"):
        Settings.from_env({"RETENTION_DAYS": "-1"})


def test_perf_admin_ids_accept_commas_or_spaces() -> None:
    settings = Settings.from_env({"PERF_ADMIN_IDS": "U1, U2 U3,,"})
    assert settings.perf_admin_ids == frozenset({"U1", "U2", "U3"})


@pytest.mark.parametrize(
    ("model", "vision", "takes_images"),
    [
        ("gpt-4o-mini", None, True),
        ("gpt-4.1", "auto", True),
        ("gpt-5-mini", None, True),
        ("o4-mini", None, True),
        ("gpt-3.5-turbo", None, False),
        ("llama3", None, False),
        ("llama3", "true", True),
        ("gpt-4o", "false", False),
    ],
)
def test_openai_vision_defaults_to_what_the_model_takes(
    model: str, vision: str | None, takes_images: bool
) -> None:
    env = {"OPENAI_MODEL": model, **({"OPENAI_VISION": vision} if vision is not None else {})}
    assert Settings.from_env(env).model_takes_images is takes_images


def test_an_unknown_openai_vision_value_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="OPENAI_VISION"):
        Settings.from_env({"OPENAI_VISION": "sometimes"})


def test_every_unusable_setting_is_named_at_once_without_the_password() -> None:
    env = {
        "LOG_LEVEL": "verbose",
        "DATABASE_URL": "mysql://coach:hunter2@db/coachbot",
        "OPENAI_BASE_URL": "localhost:8000/v1",
    }

    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)

    assert raised.value.problems == [
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'VERBOSE'",
        "DATABASE_URL: unsupported database URL scheme 'mysql'; use sqlite or postgresql",
        "OPENAI_BASE_URL must be an http(s) URL",
    ]
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "error", "CRITICAL"])
def test_log_levels_are_case_insensitive(level: str) -> None:
    assert Settings.from_env({"LOG_LEVEL": level}).log_level == level.upper()


def test_a_malformed_database_url_is_named() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL is not a database URL"):
        Settings.from_env({"DATABASE_URL": "coachbot.db"})


def test_moderation_is_on_unless_turned_off_and_nothing_else_is_accepted() -> None:
    assert Settings.from_env({}).openai_moderation == "auto"
    assert Settings.from_env({"OPENAI_MODERATION": "OFF"}).openai_moderation == "off"
    with pytest.raises(SettingsError, match="OPENAI_MODERATION"):
        Settings.from_env({"OPENAI_MODERATION": "sometimes"})


def test_crisis_resources_default_to_emergency_services_and_the_eap_and_can_be_set() -> None:
    default = Settings.from_env({}).crisis_resources
    assert "emergency" in default and "Employee Assistance Programme" in default
    ours = Settings.from_env({"CRISIS_RESOURCES": r"Call 000.\nEAP: 1300 687 327"}).crisis_resources
    assert ours == "Call 000.\nEAP: 1300 687 327"


def test_checkin_days_defaults_to_a_week_and_must_be_at_least_one() -> None:
    assert Settings.from_env({}).checkin_days == 7
    assert Settings.from_env({"CHECKIN_DAYS": "3"}).checkin_days == 3
    with pytest.raises(SettingsError, match="CHECKIN_DAYS must be a whole number of days, 1 or more"):
        Settings.from_env({"CHECKIN_DAYS": "0"})
    with pytest.raises(SettingsError, match="CHECKIN_DAYS must be a whole number"):
        Settings.from_env({"CHECKIN_DAYS": "soon"})
