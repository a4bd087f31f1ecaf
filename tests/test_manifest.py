"""The Slack app manifest (manifest.yml) is valid and declares exactly what the app uses.

Validation is offline, against Slack's published JSON schemas kept in a shared folder
(``shared/slack-manifest-schema``). The folder is found via ``COACHBOT_MANIFEST_SCHEMA_DIR`` or by
walking up from the repository root (locally ``/work/shared``; in CI a copy of ``shared/`` sits
beside the clone). A missing schema is a test failure, never a skip.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = REPO_ROOT / "manifest.yml"
SCHEMA_DIR_ENV = "COACHBOT_MANIFEST_SCHEMA_DIR"
SCHEMA_SUBDIR = Path("shared") / "slack-manifest-schema"

EVENTS_URL = "https://example.com/slack/events"

EXPECTED_BOT_EVENTS = {
    "app_mention",
    "message.im",
    "message.channels",
    "message.groups",
    "assistant_thread_started",
    "assistant_thread_context_changed",
}

EXPECTED_BOT_SCOPES = {
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "groups:history",
    "im:history",
    "im:read",
    "im:write",
    "chat:write",
    "commands",
    "users:read",
    "files:read",  # downloading the files coaches share
    "reactions:write",  # 📥 / ✅ on a coach's message while a shared file is saved
    "files:write",  # the weekly report's chart
}


def find_schema_dir() -> Path:
    """Return the ``slack-manifest-schema`` folder, or fail the test with a clear message."""
    override = os.environ.get(SCHEMA_DIR_ENV)
    if override:
        path = Path(override).expanduser().resolve()
        if not (path / "schemas").is_dir():
            pytest.fail(
                f"{SCHEMA_DIR_ENV}={override!r} does not point at a slack-manifest-schema folder "
                f"(expected a 'schemas/' subfolder in {path})."
            )
        return path

    searched = []
    for base in (REPO_ROOT, *REPO_ROOT.parents):
        candidate = base / SCHEMA_SUBDIR
        searched.append(str(candidate))
        if (candidate / "schemas").is_dir():
            return candidate
    pytest.fail(
        "Slack manifest JSON schema not found. Set "
        f"{SCHEMA_DIR_ENV} to the slack-manifest-schema folder, or place 'shared/slack-manifest-schema' "
        "in the repository root or one of its parent folders. Searched:\n  " + "\n  ".join(searched)
    )


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    assert MANIFEST_PATH.is_file(), f"{MANIFEST_PATH} is missing"
    data = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


def load_schema_for(manifest: dict[str, Any]) -> dict[str, Any]:
    """The versioned schema matching ``_metadata.major_version`` (1 when absent).

    Called from test bodies (not a fixture) so a missing schema is reported as a FAILED test.
    """
    major = manifest.get("_metadata", {}).get("major_version", 1)
    schema_file = find_schema_dir() / "schemas" / f"manifest.schema.{major}.0.0.json"
    if not schema_file.is_file():
        pytest.fail(f"No Slack manifest schema for major_version {major}: {schema_file} does not exist")
    return json.loads(schema_file.read_text(encoding="utf-8"))


def schema_errors(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def test_manifest_conforms_to_slacks_published_schema(manifest):
    errors = schema_errors(manifest, load_schema_for(manifest))
    assert not errors, "manifest.yml violates Slack's manifest schema:\n" + "\n".join(errors)


def test_schema_validation_rejects_unknown_feature_keys(manifest):
    broken = copy.deepcopy(manifest)
    broken["features"]["not_a_real_feature"] = {}
    assert schema_errors(broken, load_schema_for(manifest)), "the schema check must catch unknown keys"


def test_bot_subscribes_to_exactly_the_events_the_app_handles(manifest):
    bot_events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert len(bot_events) == len(set(bot_events)), "duplicate bot events"
    assert set(bot_events) == EXPECTED_BOT_EVENTS


def test_bot_requests_exactly_the_scopes_the_app_needs(manifest):
    bot_scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(bot_scopes) == len(set(bot_scopes)), "duplicate bot scopes"
    assert set(bot_scopes) == EXPECTED_BOT_SCOPES


def test_perf_slash_command_is_declared_for_admin_statistics(manifest):
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert "/perf" in commands
    perf = commands["/perf"]
    assert perf["description"] == "Live performance statistics (admins only)"
    assert perf["usage_hint"] == "[cache|db|jobs|llm]"
    assert perf["should_escape"] is False
    assert perf["url"].endswith("/slack/events")


def test_events_and_interactivity_are_delivered_to_slack_events_endpoint(manifest):
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == EVENTS_URL
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"] == EVENTS_URL


def test_app_runs_over_http_without_socket_mode_token_rotation_or_org_deploy(manifest):
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    assert settings["org_deploy_enabled"] is False


def test_users_can_dm_the_always_online_coachbot(manifest):
    features = manifest["features"]
    assert features["bot_user"] == {"display_name": "coachbot", "always_online": True}
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False


def test_assistant_panel_offers_a_few_coaching_prompts(manifest):
    panel = manifest["features"]["assistant_view"]
    assert panel["assistant_description"].strip()
    prompts = panel["suggested_prompts"]
    assert 2 <= len(prompts) <= 3
    assert all(p["title"].strip() and p["message"].strip() for p in prompts)
