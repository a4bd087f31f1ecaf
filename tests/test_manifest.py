"""The Slack app manifests are valid and declare exactly what the app uses.

``manifest.yml`` (HTTP) and ``manifest.socket-mode.yml`` (Socket Mode) are validated offline
against Slack's published JSON schema, vendored in ``tests/data/slack_manifest_schema`` (MIT, with
its licence), so a clone of the repository is all these tests need. The scopes are checked
against the Slack methods the code actually calls, found by reading the source.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.say_stream.async_say_stream import AsyncSayStream
from slack_bolt.context.set_status.async_set_status import AsyncSetStatus
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts
from slack_sdk.web import async_chat_stream
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation.agent_panel import SUGGESTED_PROMPTS
from bot.installs.scopes import BOT_SCOPES
from devkit.slack.scopes import METHOD_SCOPES as EMULATOR_METHOD_SCOPES

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "slack_manifest_schema"
HTTP_MANIFEST = REPO_ROOT / "manifest.yml"
SOCKET_MANIFEST = REPO_ROOT / "manifest.socket-mode.yml"
MANIFESTS = {"http": HTTP_MANIFEST, "socket-mode": SOCKET_MANIFEST}
#: Where the app's own code lives (devkit, bench and tests only act as Slack or drive it).
APP_SOURCE_DIRS = ("bot", "handlers", "jobs", "storage")

EVENTS_URL = "https://example.com/slack/events"

#: Each Web API method the app may call, and the bot scopes of which one allows it: the emulator's
#: table (each method's Slack reference page, "Scopes"), plus the methods that need no bot scope.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    **EMULATOR_METHOD_SCOPES,
    "auth.test": (),
    # Called with the app-level token (its connections:write), never the bot token: no bot scope.
    "apps.connections.open": (),
    # views.open needs no scope (its method page): the trigger_id is the permission.
    "views.open": (),
}

#: The scope each subscribed bot event needs (Slack's event reference pages).
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_home_opened": None,
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "app_uninstalled": None,
    "tokens_revoked": None,
}

#: Bolt's injected utilities, which call the Web API on the listener's behalf.
BOLT_UTILITIES = {
    "say": AsyncSay,
    "set_suggested_prompts": AsyncSetSuggestedPrompts,
    "AsyncSetStatus": AsyncSetStatus,
    "AsyncSayStream": AsyncSayStream,  # slack_sdk's chat_stream, bound to a thread
}


def load_manifest(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"{path} is missing"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} must be a YAML mapping"
    return data


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load_manifest(HTTP_MANIFEST)


@pytest.fixture(scope="module", params=sorted(MANIFESTS))
def any_manifest(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_manifest(MANIFESTS[request.param])


def load_schema_for(manifest: dict[str, Any]) -> dict[str, Any]:
    """The vendored schema matching ``_metadata.major_version`` (1 when absent)."""
    major = manifest.get("_metadata", {}).get("major_version", 1)
    schema_file = SCHEMA_DIR / "schemas" / f"manifest.schema.{major}.0.0.json"
    assert schema_file.is_file(), f"no vendored Slack manifest schema for major_version {major}"
    return json.loads(schema_file.read_text(encoding="utf-8"))


def schema_errors(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def web_api_methods(client_method: str) -> set[str]:
    """The Slack methods one ``AsyncWebClient`` method calls, read from slack_sdk's own source."""
    if client_method == "chat_stream":  # returns an AsyncChatStream, which makes the calls
        called = set(re.findall(r"_client\.([A-Za-z_]+)\(", inspect.getsource(async_chat_stream)))
        return set().union(*(web_api_methods(name) for name in called))
    source = inspect.getsource(getattr(AsyncWebClient, client_method))
    direct = set(re.findall(r'api_call\(\s*"([A-Za-z.]+)"', source))
    helpers = {name for name in re.findall(r"self\.([A-Za-z_]+)\(", source) if name in vars(AsyncWebClient)}
    return direct.union(*(web_api_methods(name) for name in helpers - {client_method}))


def bolt_utility_methods(utility: type) -> set[str]:
    source = inspect.getsource(utility)
    called = set(re.findall(r"client\.([A-Za-z_]+)\(", source))
    return set().union(*(web_api_methods(name) for name in called))


def methods_the_app_calls() -> dict[str, set[str]]:
    """Slack method → the source files that call it (directly, or through Bolt's utilities)."""
    found: dict[str, set[str]] = {}
    for folder in APP_SOURCE_DIRS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in BOLT_UTILITIES:
                    methods = bolt_utility_methods(BOLT_UTILITIES[name])
                elif isinstance(node.func, ast.Attribute) and name in vars(AsyncWebClient):
                    methods = web_api_methods(name)
                else:
                    continue
                for method in methods:
                    found.setdefault(method, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def app_downloads_private_files() -> bool:
    return any(
        "url_private" in path.read_text(encoding="utf-8") for path in (REPO_ROOT / "bot").rglob("*.py")
    )


def bot_scopes(manifest: dict[str, Any]) -> list[str]:
    return manifest["oauth_config"]["scopes"]["bot"]


def methods_not_allowed(manifest: dict[str, Any], called: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """The called methods none of whose scopes the manifest grants."""
    scopes = set(bot_scopes(manifest))
    return {
        method: METHOD_SCOPES[method]
        for method in called
        if METHOD_SCOPES[method] and not scopes & set(METHOD_SCOPES[method])
    }


# ----------------------------------------------------------------------------------- the schema


def test_the_schema_is_vendored_with_its_licence_and_its_source() -> None:
    assert (SCHEMA_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "slackapi/manifest-schema" in (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")


def test_both_manifests_conform_to_slacks_published_schema(any_manifest) -> None:
    errors = schema_errors(any_manifest, load_schema_for(any_manifest))
    assert not errors, "the manifest violates Slack's manifest schema:\n" + "\n".join(errors)


def test_schema_validation_rejects_unknown_feature_keys(manifest) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["not_a_real_feature"] = {}
    assert schema_errors(broken, load_schema_for(manifest)), "the schema check must catch unknown keys"


def test_schema_validation_rejects_more_than_four_agent_view_prompts(manifest) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["agent_view"]["suggested_prompts"] *= 2
    assert schema_errors(broken, load_schema_for(manifest))


# ----------------------------------------------------------------------------------- the agent view


def test_the_app_uses_the_agent_view_not_the_older_assistant_view(any_manifest) -> None:
    features = any_manifest["features"]
    assert "assistant_view" not in features
    assert features["agent_view"]["agent_description"].strip()


def test_the_agent_view_prompts_are_the_ones_the_app_sets(any_manifest) -> None:
    prompts = any_manifest["features"]["agent_view"]["suggested_prompts"]
    assert prompts == SUGGESTED_PROMPTS
    assert 1 <= len(prompts) <= 4


def test_users_can_message_the_always_online_coachbot(any_manifest) -> None:
    features = any_manifest["features"]
    assert features["bot_user"] == {"display_name": "coachbot", "always_online": True}
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["home_tab_enabled"] is True  # the coach's Home (views.publish)
    assert features["app_home"]["messages_tab_read_only_enabled"] is False


# ----------------------------------------------------------------------------------- events and scopes


def test_bot_subscribes_to_exactly_the_events_the_app_handles(any_manifest) -> None:
    bot_events = any_manifest["settings"]["event_subscriptions"]["bot_events"]
    assert len(bot_events) == len(set(bot_events)), "duplicate bot events"
    assert set(bot_events) == set(EVENT_SCOPES)


def test_every_slack_method_the_app_calls_is_allowed_by_the_manifests_scopes(any_manifest) -> None:
    called = methods_the_app_calls()
    unknown = sorted(set(called) - set(METHOD_SCOPES))
    assert not unknown, f"look up the scope of {unknown} on Slack's method pages and add it to METHOD_SCOPES"
    missing = methods_not_allowed(any_manifest, called)
    assert not missing, f"methods whose scope the manifest lacks: {missing} (called from {called})"


def test_the_scope_check_catches_a_dropped_scope(manifest) -> None:
    without_reactions = copy.deepcopy(manifest)
    bot_scopes(without_reactions).remove("reactions:write")

    assert set(methods_not_allowed(without_reactions, methods_the_app_calls())) == {
        "reactions.add",
        "reactions.remove",
    }


def test_the_method_scan_sees_the_calls_it_should(any_manifest) -> None:
    called = methods_the_app_calls()
    for method in (
        "chat.postMessage",  # Bolt's say and our own posts
        "chat.startStream",  # slack_sdk's chat_stream
        "chat.appendStream",
        "chat.stopStream",
        "assistant.threads.setStatus",  # Bolt's AsyncSetStatus
        "assistant.threads.setSuggestedPrompts",  # Bolt's set_suggested_prompts
        "files.completeUploadExternal",  # files_upload_v2
        "users.info",
    ):
        assert method in called, method


def test_every_scope_the_manifest_asks_for_is_used(any_manifest) -> None:
    # A method allowed by one of several scopes counts toward its first (the one Slack prefers).
    needed = {METHOD_SCOPES[method][0] for method in methods_the_app_calls() if METHOD_SCOPES[method]}
    needed |= {
        scope
        for event in any_manifest["settings"]["event_subscriptions"]["bot_events"]
        if (scope := EVENT_SCOPES[event])
    }
    if any_manifest["features"].get("slash_commands"):
        needed.add("commands")
    if app_downloads_private_files():
        needed.add("files:read")  # url_private_download answers with a sign-in page without it
    scopes = bot_scopes(any_manifest)
    assert len(scopes) == len(set(scopes)), "duplicate bot scopes"
    assert set(scopes) == needed, f"unused: {set(scopes) - needed}; missing: {needed - set(scopes)}"


# ----------------------------------------------------------------------------------- delivery


def test_perf_slash_command_is_declared_for_admin_statistics(any_manifest) -> None:
    commands = {c["command"]: c for c in any_manifest["features"]["slash_commands"]}
    perf = commands["/perf"]
    assert perf["description"] == "Live performance statistics (admins only)"
    assert perf["usage_hint"] == "[cache|db|jobs|llm|feedback]"
    assert perf["should_escape"] is False


def test_over_http_events_commands_and_interactivity_go_to_slack_events(manifest) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"] == EVENTS_URL
    assert settings["interactivity"] == {"is_enabled": True, "request_url": EVENTS_URL}
    assert all(c["url"] == EVENTS_URL for c in manifest["features"]["slash_commands"])


def test_over_socket_mode_nothing_needs_a_public_url() -> None:
    socket = load_manifest(SOCKET_MANIFEST)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "example.com" not in SOCKET_MANIFEST.read_text(encoding="utf-8")
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert socket["settings"]["interactivity"] == {"is_enabled": True}
    assert all("url" not in c for c in socket["features"]["slash_commands"])


def test_the_socket_mode_manifest_is_the_http_one_without_urls(manifest) -> None:
    http = copy.deepcopy(manifest)
    del http["settings"]["event_subscriptions"]["request_url"]
    del http["settings"]["interactivity"]["request_url"]
    for command in http["features"]["slash_commands"]:
        del command["url"]
    http["settings"]["socket_mode_enabled"] = True
    assert load_manifest(SOCKET_MANIFEST) == http


def test_no_token_rotation_or_org_deploy(any_manifest) -> None:
    assert any_manifest["settings"]["token_rotation_enabled"] is False
    assert any_manifest["settings"]["org_deploy_enabled"] is False


def test_an_oauth_install_asks_for_the_manifests_bot_scopes(any_manifest) -> None:
    assert tuple(any_manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
