"""Metrics: rolling latency windows for listeners, the model, the database and file transfers."""

from __future__ import annotations

import inspect
import logging
import threading

import pytest
from sqlalchemy import text

from bot.conversation.llm import StreamStats
from bot.operations.metrics import Metrics, RollingWindow, timed
from storage.conversations import ConversationStore, SessionKey
from storage.engine import create_db_engine
from tests.fixtures.clock import FakeClock


def test_a_window_reports_count_errors_and_percentiles(clock: FakeClock):
    window = RollingWindow(clock=clock)
    for value in range(1, 101):
        window.add(float(value), failed=value % 10 == 0)

    summary = window.summary()

    assert (summary["count"], summary["errors"]) == (100, 10)
    assert (summary["p50"], summary["p95"], summary["p99"], summary["max"]) == (50.0, 95.0, 99.0, 100.0)
    assert summary["mean"] == pytest.approx(50.5)


def test_an_empty_window_has_no_percentiles(clock: FakeClock):
    summary = RollingWindow(clock=clock).summary()

    assert summary["count"] == 0
    assert summary["p50"] is None and summary["p99"] is None


def test_old_values_leave_the_window_but_stay_in_the_lifetime_totals(clock: FakeClock):
    window = RollingWindow(window_seconds=900, bucket_seconds=60, clock=clock)
    window.add(1000.0)
    clock.advance(600)
    window.add(10.0)

    assert window.summary()["count"] == 2
    clock.advance(400)  # the first value is 1000 s old, the second 400 s
    summary = window.summary()

    assert (summary["count"], summary["max"]) == (1, 10.0)
    assert (window.lifetime_count, window.lifetime_total) == (2, 1010.0)


def test_a_busy_minute_keeps_exact_counts_and_a_bounded_sample(clock: FakeClock):
    window = RollingWindow(samples_per_bucket=100, clock=clock)
    for value in range(10_000):
        window.add(float(value % 100))

    summary = window.summary()

    assert summary["count"] == 10_000
    assert len(window._buckets[0].samples) == 100
    assert 30 <= summary["p50"] <= 70  # a fair sample of values spread evenly over 0..99


def test_windows_count_exactly_under_threads(clock: FakeClock):
    window = RollingWindow(clock=clock)

    def writer() -> None:
        for _ in range(1000):
            window.add(1.0)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert window.summary()["count"] == 8000


def test_a_model_call_is_read_from_its_stream_stats():
    metrics = Metrics()
    stats = StreamStats(
        request_sent_at=100.0,
        first_token_at=100.25,
        last_token_at=101.9,
        finished_at=102.0,
        prompt_tokens=120,
        completion_tokens=40,
    )

    metrics.record_model_call(stats, failed=False)
    metrics.record_model_call(StreamStats(request_sent_at=200.0, finished_at=200.5), failed=True)

    assert metrics.model_ttft.summary()["p50"] == pytest.approx(250.0)
    total = metrics.model_total.summary()
    assert (total["count"], total["errors"], total["max"]) == (2, 1, pytest.approx(2000.0))
    assert (metrics.prompt_tokens.value, metrics.completion_tokens.value) == (120, 40)


def test_a_slow_listener_logs_one_line_with_its_name_and_duration(caplog: pytest.LogCaptureFixture):
    metrics = Metrics(slow_request_ms=100)
    caplog.set_level(logging.WARNING, logger="bot.operations.metrics")

    metrics.record_listener("handle_direct_message", 150.0, own_ms=150.0, failed=False)
    metrics.record_listener("handle_direct_message", 50.0, own_ms=50.0, failed=False)

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith("Slow request")
    assert "handle_direct_message" in lines[0] and "150" in lines[0]
    assert metrics.slow_requests == 1


def test_time_spent_waiting_on_the_model_does_not_make_a_request_slow(caplog: pytest.LogCaptureFixture):
    metrics = Metrics(slow_request_ms=100)

    metrics.record_listener("handle_user_message", 3000.0, own_ms=20.0, failed=False)

    assert metrics.slow_requests == 0
    row = metrics.listeners()["handle_user_message"]
    assert (row["total_ms"]["max"], row["own_ms"]["max"]) == (3000.0, 20.0)


async def test_timed_listeners_keep_their_argument_names_for_bolt_and_report_to_the_bound_metrics():
    seen = {}

    async def handle_something(event: dict, say: object) -> str:
        seen["event"] = event
        return "done"

    listener = timed(handle_something)
    # Bolt injects arguments by the names it finds on the unwrapped function.
    assert inspect.getfullargspec(inspect.unwrap(listener)).args == ["event", "say"]

    metrics = Metrics()
    metrics.bind()
    assert await listener(event={"type": "x"}, say=None) == "done"

    assert seen["event"] == {"type": "x"}
    assert metrics.listeners()["handle_something"]["total_ms"]["count"] == 1


async def test_a_listener_that_raises_is_counted_as_an_error():
    async def handle_boom() -> None:
        raise RuntimeError("boom")

    metrics = Metrics()
    metrics.bind()
    with pytest.raises(RuntimeError):
        await timed(handle_boom)()

    assert metrics.listeners()["handle_boom"]["total_ms"]["errors"] == 1


async def test_the_model_wait_inside_a_timed_listener_is_subtracted_from_its_own_time():
    metrics = Metrics(slow_request_ms=60_000)

    async def handle_turn() -> None:
        metrics.record_model_call(StreamStats(request_sent_at=1.0, finished_at=3.0), failed=False)

    metrics.bind()
    await timed(handle_turn)()

    row = metrics.listeners()["handle_turn"]
    assert row["total_ms"]["max"] < 2000 and row["own_ms"]["max"] == 0.0


def test_file_transfers_add_up_bytes_seconds_and_throughput():
    metrics = Metrics()

    metrics.on_transfer("upload", 4_000_000, 2.0, False)
    metrics.on_transfer("upload", 1_000_000, 0.5, True)
    metrics.on_transfer("download", 500, 0.01, False)

    upload = metrics.transfers()["upload"]
    assert (upload["count"], upload["errors"], upload["bytes"]) == (2, 1, 5_000_000)
    assert upload["seconds"] == pytest.approx(2.5)
    assert upload["bytes_per_second"] == 2_000_000
    assert metrics.transfers()["download"]["bytes"] == 500


async def test_database_queries_are_timed_including_the_turns_write_transaction(database_url: str):
    metrics = Metrics()
    engine = create_db_engine(database_url)
    metrics.instrument_engine(engine.sync_engine)
    store = ConversationStore(engine)  # on a SQLite file, writes go through its own writer engine
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert metrics.db_queries.summary()["count"] == 1

        await store.record_user_message(
            SessionKey("T1", "C1", "1.0"),
            user_id="U1",
            slack_ts="1.0",
            text="hello",
            event_id="Ev1",
            start_session=True,
            history_limit=50,
        )

        queries = metrics.db_queries.summary()
        assert queries["count"] >= 2
        assert queries["errors"] == 0 and queries["p50"] > 0
    finally:
        await store.close()
        await engine.dispose()


async def test_a_failing_query_counts_as_an_error(database_url: str):
    metrics = Metrics()
    engine = create_db_engine(database_url)
    metrics.instrument_engine(engine.sync_engine)
    try:
        async with engine.connect() as connection:
            with pytest.raises(Exception, match="no_such_table"):
                await connection.execute(text("SELECT * FROM no_such_table"))
        assert metrics.db_queries.summary()["errors"] == 1
    finally:
        await engine.dispose()


def test_uptime_and_memory_are_reported():
    metrics = Metrics()

    assert metrics.uptime_seconds() >= 0
    assert metrics.rss_bytes() > 10_000_000
