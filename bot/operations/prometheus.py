"""``GET /metrics``: the /perf snapshot in Prometheus text format, through prometheus-client.

A custom collector reads ``PerfService.collect()`` at scrape time and lives in the
Metrics object's own CollectorRegistry, never the global default one, so two apps in one
process (tests) cannot collide. Lifetime totals are counters and summaries (``_count``,
``_sum``); the rolling window's percentiles are gauges labelled ``quantile``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.operations.metrics import Metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


class PerfCollector(Collector):
    """Turns one snapshot into metric families on every scrape."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], metrics: Metrics) -> None:
        self._snapshot = snapshot
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        data = self._snapshot()
        yield from _process(data["process"])
        yield from _caches(data.get("caches", {}))
        yield from _listeners(self._metrics, data.get("listeners"))
        yield from _llm(self._metrics, data.get("llm"))
        yield from _db(self._metrics, data.get("db"))
        yield from _transfers(data.get("s3", {}))
        yield from _jobs(data.get("jobs"))
        yield from _config(data.get("config"))
        yield from _feedback(data.get("feedback"))


def register_collector(metrics: Metrics, snapshot: Callable[[], dict[str, Any]]) -> None:
    metrics.registry.register(PerfCollector(snapshot, metrics))


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def _seconds(ms: float | None) -> float:
    return float("nan") if ms is None else ms / 1000


def _window_gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=[*labels, "quantile"])


def _add_quantiles(family: GaugeMetricFamily, label_values: list[str], summary: dict[str, Any]) -> None:
    for quantile, key in QUANTILES:
        if summary[key] is not None:
            family.add_metric([*label_values, quantile], _seconds(summary[key]))


def _process(process: dict[str, Any]) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "coachbot_uptime_seconds", "Seconds since the app started.", value=process["uptime_seconds"]
    )
    yield GaugeMetricFamily("coachbot_resident_memory_bytes", "Process RSS.", value=process["rss_bytes"])


def _caches(caches: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    families = {
        "hits": CounterMetricFamily("coachbot_cache_hits", "Cache lookups answered.", labels=["cache"]),
        "misses": CounterMetricFamily(
            "coachbot_cache_misses", "Cache lookups not answered.", labels=["cache"]
        ),
        "evictions": CounterMetricFamily(
            "coachbot_cache_evictions", "Live entries dropped to make room.", labels=["cache"]
        ),
        "entries": GaugeMetricFamily("coachbot_cache_entries", "Entries held now.", labels=["cache"]),
        "memory_bytes": GaugeMetricFamily(
            "coachbot_cache_memory_bytes", "Approximate memory.", labels=["cache"]
        ),
    }
    for name, stats in caches.items():
        for key, family in families.items():
            family.add_metric([name], stats[key])
    yield from families.values()


def _listeners(metrics: Metrics, listeners: dict[str, Any] | None) -> Iterator[Metric]:
    if listeners is None:
        return
    yield CounterMetricFamily(
        "coachbot_slow_requests",
        "Listener runs over SLOW_REQUEST_MS of own time.",
        value=listeners["slow_requests"],
    )
    window = _window_gauge(
        "coachbot_listener_own_seconds", "Listener own time (model excluded), rolling window.", ["listener"]
    )
    runs = CounterMetricFamily("coachbot_listener_runs", "Listener runs since start.", labels=["listener"])
    errors = CounterMetricFamily(
        "coachbot_listener_errors", "Listener runs that raised.", labels=["listener"]
    )
    for name, row in listeners["by_listener"].items():
        _add_quantiles(window, [name], row["own_ms"])
        lifetime = metrics.listener_lifetime(name)
        runs.add_metric([name], lifetime[0])
        errors.add_metric([name], lifetime[1])
    yield from (window, runs, errors)


def _llm(metrics: Metrics, llm: dict[str, Any] | None) -> Iterator[Metric]:
    if llm is None:
        return
    ttft = _window_gauge("coachbot_openai_ttft_seconds", "Time to first token, rolling window.", [])
    _add_quantiles(ttft, [], llm["time_to_first_token_ms"])
    total = _window_gauge("coachbot_openai_reply_seconds", "Whole streamed reply, rolling window.", [])
    _add_quantiles(total, [], llm["total_ms"])
    calls = CounterMetricFamily("coachbot_openai_calls", "Model calls since start.", value=llm["calls"])
    errors = CounterMetricFamily("coachbot_openai_errors", "Model calls that failed.", value=llm["errors"])
    tokens = CounterMetricFamily("coachbot_openai_tokens", "Tokens used since start.", labels=["kind"])
    tokens.add_metric(["prompt"], llm["prompt_tokens"])
    tokens.add_metric(["completion"], llm["completion_tokens"])
    crisis = CounterMetricFamily(
        "coachbot_crisis_replies", "Caring replies given in place of coaching.", value=llm["crisis_replies"]
    )
    yield from (ttft, total, calls, errors, tokens, crisis)


def _db(metrics: Metrics, db: dict[str, Any] | None) -> Iterator[Metric]:
    if db is None:
        return
    pool = GaugeMetricFamily("coachbot_db_pool", "Connection pool state.", labels=["state"])
    for key in ("size", "checked_out", "checked_in", "overflow", "max_overflow"):
        if key in db["pool"]:
            pool.add_metric([key], db["pool"][key])
    queries = _window_gauge("coachbot_db_query_seconds", "Query latency, rolling window.", [])
    _add_quantiles(queries, [], db["queries_ms"])
    window = metrics.db_queries
    count = CounterMetricFamily("coachbot_db_queries", "Queries since start.", value=window.lifetime_count)
    errors = CounterMetricFamily(
        "coachbot_db_query_errors", "Queries that failed.", value=window.lifetime_errors
    )
    yield from (pool, queries, count, errors)


def _transfers(s3: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    sizes = CounterMetricFamily(
        "coachbot_s3_transfer_bytes", "Bytes moved to/from the store.", labels=["direction"]
    )
    seconds = CounterMetricFamily(
        "coachbot_s3_transfer_seconds", "Seconds spent moving them.", labels=["direction"]
    )
    count = CounterMetricFamily("coachbot_s3_transfers", "Transfers since start.", labels=["direction"])
    errors = CounterMetricFamily(
        "coachbot_s3_transfer_errors", "Transfers that failed.", labels=["direction"]
    )
    for direction, row in s3.items():
        sizes.add_metric([direction], row["lifetime_bytes"])
        seconds.add_metric([direction], row["lifetime_seconds"])
        count.add_metric([direction], row["lifetime_count"])
        errors.add_metric([direction], row["lifetime_errors"])
    yield from (sizes, seconds, count, errors)


def _jobs(jobs: dict[str, Any] | None) -> Iterator[Metric]:
    if jobs is None:
        return
    running = GaugeMetricFamily("coachbot_scheduler_running", "1 when the job scheduler runs here.")
    running.add_metric([], 1 if jobs["scheduler"] == "on" else 0)
    yield running


def _config(config: dict[str, Any] | None) -> Iterator[Metric]:
    if config is None:
        return
    problems = GaugeMetricFamily(
        "coachbot_config_problems",
        "Configuration problems seen in the last 15 minutes, by the setting to change (alert on > 0).",
        labels=["setting"],
    )
    counts: dict[str, int] = {}
    for problem in config["problems"]:
        counts[problem["setting"]] = counts.get(problem["setting"], 0) + 1
    for setting, count in sorted(counts.items()):
        problems.add_metric([setting], count)
    yield problems


def _feedback(feedback: dict[str, Any] | None) -> Iterator[Metric]:
    """Presses of the reply feedback buttons since start: counts, labelled by model and prompt only."""
    if feedback is None:
        return
    presses = CounterMetricFamily(
        "coachbot_reply_feedback",
        "Feedback button presses stored (a change of mind counts as a press of the new rating).",
        labels=["model", "prompt_version", "rating"],
    )
    for press in feedback["presses"]:
        presses.add_metric([press["model"], press["prompt_version"], press["rating"]], press["count"])
    yield presses
