"""The emulator grants the manifest's bot scopes, and the assistant.threads.* methods keep their limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devkit.slack.manifest import REPOSITORY_MANIFEST, read_manifest
from devkit.slack.scopes import METHOD_SCOPES
from devkit.slack_emulator import EmulatorRules, SlackEmulator

TOKEN = "xoxb-devkit"
DM = "D0COACH"
THREAD = "1700000000.000100"
PROMPTS = [{"title": "Set a goal", "message": "Help me set a goal."}]


def web(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=TOKEN, retry_handlers=[])


def test_by_default_the_bot_has_exactly_the_scopes_of_the_repositorys_manifest(
    slack_emulator: SlackEmulator,
) -> None:
    manifest = read_manifest(REPOSITORY_MANIFEST)

    assert manifest is not None
    assert slack_emulator.scopes == list(manifest.bot_scopes)


def test_auth_test_reports_the_granted_scopes_in_the_x_oauth_scopes_header(
    slack_emulator: SlackEmulator,
) -> None:
    response = web(slack_emulator).auth_test()

    header = response.headers["x-oauth-scopes"]
    granted = header[0] if isinstance(header, list) else header
    assert granted.split(",") == slack_emulator.scopes


def test_a_method_the_scopes_dont_allow_answers_missing_scope_with_needed_and_provided() -> None:
    with SlackEmulator(scopes=["chat:write", "im:history"]) as emulator:
        client = web(emulator)

        with pytest.raises(SlackApiError) as refused:
            client.users_info(user="U0COACH")

        assert refused.value.response.status_code == 200
        assert refused.value.response.data == {
            "ok": False,
            "error": "missing_scope",
            "needed": "users:read",
            "provided": "chat:write,im:history",
        }
        assert client.chat_postMessage(channel=DM, text="allowed")["ok"]
        assert client.conversations_replies(
            channel=DM, ts=client.chat_postMessage(channel=DM, text="x")["ts"]
        )


def test_history_needs_the_scope_of_the_conversations_type() -> None:
    with SlackEmulator(scopes=["im:history"]) as emulator:
        with pytest.raises(SlackApiError) as refused:
            web(emulator).conversations_history(channel="C0TEAM")

        assert refused.value.response["needed"] == "channels:history"


def test_set_status_works_with_chat_write_alone_since_2026_03() -> None:
    with SlackEmulator(scopes=["chat:write"]) as emulator:
        client = web(emulator)

        assert client.assistant_threads_setStatus(
            channel_id="C0TEAM", thread_ts=THREAD, status="is thinking…"
        )["ok"]
        with pytest.raises(SlackApiError) as refused:
            client.assistant_threads_setTitle(channel_id=DM, thread_ts=THREAD, title="Goals")
        assert refused.value.response["error"] == "missing_scope"


def test_scopes_can_be_turned_off() -> None:
    with SlackEmulator(scopes=[], rules=EmulatorRules(scopes=False)) as emulator:
        assert web(emulator).users_info(user="U0COACH")["ok"]


def test_without_a_manifest_every_scope_is_granted(tmp_path: Path) -> None:
    with SlackEmulator(manifest=tmp_path / "absent.yml") as emulator:
        assert emulator.scopes is None
        assert web(emulator).users_info(user="U0COACH")["ok"]


def test_every_scoped_method_is_one_the_emulator_implements(slack_emulator: SlackEmulator) -> None:
    assert set(METHOD_SCOPES) <= set(slack_emulator.implemented_methods())


def test_set_status_needs_its_arguments_and_at_most_10_loading_messages(
    slack_emulator: SlackEmulator,
) -> None:
    client = web(slack_emulator)

    assert client.assistant_threads_setStatus(channel_id=DM, thread_ts=THREAD, status="")["ok"]  # clears it
    with pytest.raises(SlackApiError) as no_thread:
        client.api_call("assistant.threads.setStatus", json={"channel_id": DM, "status": "x"})
    with pytest.raises(SlackApiError) as too_many:
        client.assistant_threads_setStatus(
            channel_id=DM, thread_ts=THREAD, status="x", loading_messages=[str(n) for n in range(11)]
        )

    assert no_thread.value.response["error"] == "invalid_thread_ts"
    assert too_many.value.response["error"] == "invalid_arguments"


def test_suggested_prompts_are_one_to_four_with_a_title_and_a_message() -> None:
    with SlackEmulator(agent_view=False) as emulator:  # the legacy assistant view takes a thread_ts
        client = web(emulator)
        five = [{"title": f"t{n}", "message": f"m{n}"} for n in range(5)]

        four = client.assistant_threads_setSuggestedPrompts(channel_id=DM, thread_ts=THREAD, prompts=five[:4])
        for bad in (five, [], [{"title": "no message"}]):
            with pytest.raises(SlackApiError) as refused:
                client.assistant_threads_setSuggestedPrompts(channel_id=DM, thread_ts=THREAD, prompts=bad)
            assert refused.value.response["error"] == "invalid_arguments"

        assert four["ok"]
        [accepted] = emulator.suggested_prompts()
        assert accepted.prompts[0] == ("t0", "m0") and accepted.effective


def test_in_an_agent_app_suggested_prompts_with_a_thread_ts_silently_do_nothing() -> None:
    with SlackEmulator(agent_view=True) as emulator:
        client = web(emulator)

        answered = client.assistant_threads_setSuggestedPrompts(
            channel_id=DM, thread_ts=THREAD, prompts=PROMPTS
        )
        client.assistant_threads_setSuggestedPrompts(channel_id=DM, prompts=PROMPTS, title="Try one")

        assert answered["ok"] is True  # Slack says ok ...
        [ignored] = emulator.suggested_prompts(effective=False)  # ... and shows nothing
        assert ignored.thread_ts == THREAD
        [shown] = emulator.suggested_prompts(effective=True)
        assert (shown.thread_ts, shown.title) == (None, "Try one")


def test_the_agent_view_is_read_from_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(
        "features:\n  agent_view:\n    agent_description: x\noauth_config:\n  scopes:\n    bot: []\n"
    )

    with SlackEmulator(manifest=manifest) as emulator:
        assert emulator.agent_view is True
        assert emulator.scopes == []
