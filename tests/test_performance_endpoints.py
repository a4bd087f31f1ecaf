"""GET /performance (JSON, gzip when accepted), GET /metrics (Prometheus text), and slow requests."""

from __future__ import annotations

import gzip
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from tests.fixtures.app import converse
from tests.fixtures.waiting import eventually

DM = "D0COACH"
T = TypeVar("T")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def metric_samples(body: bytes) -> dict[str, list]:
    """Prometheus text → {family name: samples}; raises if it does not parse."""
    return {family.name: family.samples for family in text_string_to_metric_families(body.decode())}


def test_performance_is_json_gzip_compressed_when_the_client_accepts_it(coachbot: BackgroundServer):
    status, headers, body = get(f"{coachbot.url}/performance", {"Accept-Encoding": "gzip"})

    assert status == 200
    assert headers["content-encoding"] == "gzip"
    data = json.loads(gzip.decompress(body))
    assert set(data) >= {"process", "caches", "listeners", "llm", "db", "s3", "jobs"}
    assert data["caches"]["sessions"]["ttl"] == 30.0


def test_performance_is_plain_json_for_a_client_without_gzip(coachbot: BackgroundServer):
    status, headers, body = get(f"{coachbot.url}/performance")

    assert status == 200 and "content-encoding" not in headers
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["process"]["rss_bytes"] > 0


def test_metrics_is_prometheus_text_with_the_numbers_of_real_traffic(
    slack_emulator: SlackEmulator, coachbot: BackgroundServer
):
    converse(slack_emulator, coachbot, slack_emulator.user_says(channel=DM, text="Help me plan my week."))

    # The turn is measured just after its reply reaches Slack.
    eventually(lambda: b"coachbot_openai_calls_total 1.0" in get(f"{coachbot.url}/metrics")[2])
    status, headers, body = get(f"{coachbot.url}/metrics")

    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    families = metric_samples(body)
    assert {
        "coachbot_uptime_seconds",
        "coachbot_resident_memory_bytes",
        "coachbot_cache_hits",
        "coachbot_listener_runs",
        "coachbot_openai_ttft_seconds",
        "coachbot_db_pool",
        "coachbot_db_queries",
        "coachbot_s3_transfer_bytes",
    } <= set(families)
    calls = {sample.name: sample.value for sample in families["coachbot_openai_calls"]}
    assert calls == {"coachbot_openai_calls_total": 1.0}
    entries = {s.labels["cache"]: s.value for s in families["coachbot_cache_entries"]}
    assert entries["sessions"] == 1.0
    queries = [s.value for s in families["coachbot_db_queries"] if s.name == "coachbot_db_queries_total"]
    assert queries[0] > 0


@pytest.fixture
def guarded_server(settings: Settings) -> Iterator[BackgroundServer]:
    with BackgroundServer(settings.with_overrides(metrics_token="s3cret-scrape-token")) as server:
        yield server


@pytest.mark.parametrize("path", ["/performance", "/metrics"])
def test_with_a_metrics_token_set_the_endpoints_need_it(guarded_server: BackgroundServer, path: str):
    assert get(f"{guarded_server.url}{path}")[0] == 401
    assert get(f"{guarded_server.url}{path}", {"Authorization": "Bearer wrong"})[0] == 401

    status, _, _ = get(f"{guarded_server.url}{path}", {"Authorization": "Bearer s3cret-scrape-token"})

    assert status == 200


@pytest.fixture
def impatient_server(settings: Settings) -> Iterator[BackgroundServer]:
    with BackgroundServer(settings.with_overrides(slow_request_ms=1)) as server:
        yield server


def test_a_slow_listener_logs_one_line_with_its_name_and_duration_but_no_message_text(
    slack_emulator: SlackEmulator, impatient_server: BackgroundServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    secret_words = "my manager keeps undermining me"

    converse(slack_emulator, impatient_server, slack_emulator.user_says(channel=DM, text=secret_words))

    def slow_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Slow request")]

    lines = eventually(slow_lines)
    assert len(lines) == 1
    assert "listener=handle_direct_message" in lines[0] and "duration_ms=" in lines[0]
    assert secret_words not in lines[0]
    assert all(secret_words not in r.getMessage() for r in caplog.records)
    _, _, body = get(f"{impatient_server.url}/performance")
    assert json.loads(body)["listeners"]["slow_requests"] == 1
