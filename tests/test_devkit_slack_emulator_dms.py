"""The emulator as Slack's pages describe it for check-ins: users.info timezones and conversations.open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devkit.slack.workspace import tz_fields
from devkit.slack_emulator import SlackEmulator

TOKEN = "xoxb-devkit"


def web(emulator: SlackEmulator) -> WebClient:
    return WebClient(base_url=emulator.base_url, token=TOKEN, retry_handlers=[])


def test_users_info_gives_each_member_their_own_timezone(slack_emulator: SlackEmulator) -> None:
    slack_emulator.add_user("U0TOKYO", "kenji", tz="Asia/Tokyo")

    tokyo = web(slack_emulator).users_info(user="U0TOKYO")["user"]
    default = web(slack_emulator).users_info(user="U0COACH")["user"]

    assert (tokyo["tz"], tokyo["tz_label"], tokyo["tz_offset"]) == ("Asia/Tokyo", "JST", 9 * 3600)
    assert default["tz"] == "Europe/London"


def test_a_timezones_offset_and_label_follow_daylight_saving() -> None:
    winter = tz_fields("America/New_York", datetime(2026, 12, 2, tzinfo=UTC))
    summer = tz_fields("America/New_York", datetime(2026, 7, 2, tzinfo=UTC))

    assert (winter["tz_label"], winter["tz_offset"]) == ("EST", -5 * 3600)
    assert (summer["tz_label"], summer["tz_offset"]) == ("EDT", -4 * 3600)


def test_users_info_requires_a_user(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as refused:
        web(slack_emulator).api_call("users.info", params={})
    assert refused.value.response["error"] == "invalid_arguments"


def test_conversations_open_opens_the_same_dm_with_one_person_every_time(
    slack_emulator: SlackEmulator,
) -> None:
    client = web(slack_emulator)

    first = client.conversations_open(users="U0COACH")["channel"]["id"]
    again = client.conversations_open(users="U0COACH")["channel"]["id"]

    assert first == again == slack_emulator.dm_channel_of("U0COACH")
    assert client.conversations_open(channel=first)["channel"]["id"] == first


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, "users_list_not_supplied"),
        ({"users": "U0NOBODY"}, "user_not_found"),
        ({"users": ",".join(f"U{n}" for n in range(9))}, "too_many_users"),
        ({"channel": "D0NOWHERE"}, "channel_not_found"),
    ],
)
def test_conversations_open_refuses_what_its_page_says_it_refuses(
    slack_emulator: SlackEmulator, arguments: dict[str, str], error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        web(slack_emulator).api_call("conversations.open", json=arguments)
    assert refused.value.response["error"] == error


def test_conversations_open_needs_im_write() -> None:
    with (
        SlackEmulator(scopes=["chat:write", "users:read"]) as emulator,
        pytest.raises(SlackApiError) as refused,
    ):
        web(emulator).conversations_open(users="U0COACH")
    assert (refused.value.response["error"], refused.value.response["needed"]) == (
        "missing_scope",
        "im:write",
    )


def test_the_repositorys_manifest_grants_im_write(slack_emulator: SlackEmulator) -> None:
    assert "im:write" in (slack_emulator.scopes or [])
