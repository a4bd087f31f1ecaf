"""/perf end to end: signed slash commands over HTTP, answered through the emulator's response_url.

Admins are PERF_ADMIN_IDS or Slack workspace admins/owners (users.info, cached); everyone else
is refused. After real coaching turns the report shows the numbers those turns produced.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.operations.perf import REFUSAL, USAGE
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

T = TypeVar("T")
DM = "D0COACH"
SLACK_ACK_DEADLINE_S = 3.0
# The first message opens the session; the reply in the DM thread is an agent-panel message.
LISTENERS = {"handle_direct_message", "handle_user_message"}


def perf(slack: SlackEmulator, server: BackgroundServer, text: str = "", *, user_id: str = "U0ADMIN") -> dict:
    """Run /perf like Slack does and return what the app posted to the response_url."""
    before = len(slack.response_url_posts())
    # Slack gives up on a command that is not acknowledged within 3 s.
    delivery = slack.send_command(
        server.events_url, "/perf", text, user_id=user_id, timeout=SLACK_ACK_DEADLINE_S
    )
    assert delivery.status == 200, delivery
    posts = eventually(lambda: slack.response_url_posts()[before:], timeout=10.0)
    assert len(posts) == 1, "expected exactly one answer to /perf"
    return posts[0].body


def block_text(message: dict) -> str:
    """Every piece of text in a Block Kit message, one line per block."""
    lines = []
    for block in message.get("blocks") or []:
        if "text" in block:
            lines.append(block["text"]["text"])
        for element in block.get("elements", []):
            lines.append(element.get("text", ""))
    return "\n".join(lines)


def performance_json(server: BackgroundServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/performance", timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def admin_listed_server(settings: Settings, slack_emulator: SlackEmulator) -> Iterator[BackgroundServer]:
    slack_emulator.add_user("U0LEAD", "lead")  # not a Slack admin
    with BackgroundServer(settings.with_overrides(perf_admin_ids=frozenset({"U0LEAD"}))) as server:
        yield server


def test_a_slack_workspace_admin_gets_the_whole_report_ephemerally(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
):
    reply = perf(slack_emulator, coachbot, user_id="U0ADMIN")

    assert reply["response_type"] == "ephemeral"
    text = block_text(reply)
    for heading in (
        "*Caches*",
        "*Slack listeners*",
        "*OpenAI*",
        "*Database*",
        "*File transfers (S3)*",
        "*Jobs*",
    ):
        assert heading in text
    assert "`sessions`" in text and "`slack_api`" in text
    assert "Up " in text and "RSS" in text
    assert slack_emulator.calls_to("users.info")[0].args["user"] == "U0ADMIN"


def test_a_user_in_perf_admin_ids_is_admitted_without_asking_slack(
    slack_emulator: SlackEmulator, admin_listed_server: BackgroundServer
):
    reply = perf(slack_emulator, admin_listed_server, user_id="U0LEAD")

    assert "*Caches*" in block_text(reply)
    assert slack_emulator.calls_to("users.info") == []


def test_workspace_owners_are_admitted_and_their_status_is_cached(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
):
    slack_emulator.add_user("U0BOSS", "boss", is_primary_owner=True)

    perf(slack_emulator, coachbot, user_id="U0BOSS")
    second = perf(slack_emulator, coachbot, "cache", user_id="U0BOSS")

    assert len(slack_emulator.calls_to("users.info")) == 1
    assert "`slack_api` 50% hits (1/2)" in block_text(second)


def test_anyone_else_is_refused_and_the_attempt_is_logged(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)

    reply = perf(slack_emulator, coachbot, "cache", user_id="U0COACH")

    assert reply == {"response_type": "ephemeral", "text": REFUSAL}
    refusals = [r.getMessage() for r in caplog.records if "Refused /perf" in r.getMessage()]
    assert refusals == ["Refused /perf for user U0COACH: not an admin"]


def test_a_slack_failure_during_the_admin_check_gets_a_short_answer(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
):
    slack_emulator.fail("users.info", error="fatal_error", status=200)

    reply = perf(slack_emulator, coachbot, user_id="U0ADMIN")

    assert "couldn't check" in reply["text"] and "blocks" not in reply


@pytest.mark.parametrize(
    ("section", "heading"),
    [("cache", "*Caches*"), ("db", "*Database*"), ("jobs", "*Jobs*"), ("llm", "*OpenAI*")],
)
def test_a_section_narrows_the_report_to_that_section(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer, section: str, heading: str
):
    text = block_text(perf(slack_emulator, coachbot, section))

    headings = {line.split("\n")[0] for line in text.split("\n") if line.startswith("*")}
    assert headings == {heading}
    assert "RSS" in text  # the footer stays


def test_an_unknown_section_gets_the_usage_line(slack_emulator: SlackEmulator, coachbot: BackgroundServer):
    reply = perf(slack_emulator, coachbot, "everything please")

    assert reply == {"response_type": "ephemeral", "text": USAGE}


def test_after_real_coaching_turns_perf_shows_the_numbers_they_produced(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer, database_url: str
):
    fake_openai.ttft = 0.15
    first = slack_emulator.user_says(channel=DM, text="My team misses deadlines.")
    converse(slack_emulator, coachbot, first)
    follow_up = slack_emulator.user_says(channel=DM, thread_ts=first["ts"], text="What should I ask them?")
    converse(slack_emulator, coachbot, follow_up)

    # The listeners finish (and are measured) just after the reply reaches Slack.
    data = eventually(
        lambda: (d := performance_json(coachbot))["listeners"]["by_listener"].keys() >= LISTENERS and d,
        timeout=10.0,
    )
    text = block_text(perf(slack_emulator, coachbot, "llm"))

    llm = data["llm"]
    # Seen from the app, the first token cannot come sooner than the fake server waits (150 ms).
    assert llm["time_to_first_token_ms"]["count"] == 2
    assert llm["time_to_first_token_ms"]["p50"] >= 150
    assert llm["time_to_first_token_ms"]["max"] <= llm["total_ms"]["max"]
    assert llm["errors"] == 0 and llm["completion_tokens"] > 0 and llm["prompt_tokens"] > 0
    assert "n=2" in text
    listeners = data["listeners"]["by_listener"]
    assert listeners["handle_direct_message"]["total_ms"]["count"] == 1
    assert listeners["handle_user_message"]["total_ms"]["count"] == 1
    # A listener's whole run includes the model's reply; its own time leaves that out.
    whole = listeners["handle_direct_message"]["total_ms"]["max"]
    assert whole >= 150
    assert listeners["handle_direct_message"]["own_ms"]["max"] < whole
    sessions = data["caches"]["sessions"]
    assert sessions["entries"] == 1  # the thread's session id, written through by the first turn
    if database_url.startswith("sqlite"):
        # The follow-up found its session in the cache. (PostgreSQL's one-statement turn finds
        # the session by its thread key inside the statement, so it does not read the cache.)
        assert (sessions["hits"], sessions["misses"]) == (1, 1)
    queries = data["db"]["queries_ms"]
    assert queries["count"] >= 4 and queries["errors"] == 0
    assert data["process"]["rss_bytes"] > 0 and data["process"]["uptime_seconds"] > 0
