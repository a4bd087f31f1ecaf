"""The admin /perf report: one snapshot of the service's health, as JSON and as Block Kit.

The same ``collect`` feeds the /perf slash command, ``GET /performance`` and (through
bot/operations/prometheus.py) ``GET /metrics``, so the three never disagree.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.operations.admins import AdminCheck
from bot.operations.follow_through import MIN_COACHES
from bot.operations.health import ConfigHealth
from bot.operations.metrics import Metrics
from storage.caches import CacheRegistry
from storage.engine import pool_status

logger = logging.getLogger(__name__)

SECTIONS = ("cache", "db", "jobs", "llm", "feedback")
USAGE = "Usage: `/perf [cache|db|jobs|llm|feedback]` (no argument: the whole report)."
REFUSAL = "Sorry, /perf is only for workspace admins and owners."
CHECK_FAILED = "I couldn't check with Slack whether you're an admin. Please try /perf again in a minute."
MAX_LISTENER_LINES = 15

Respond = Callable[..., Awaitable[Any]]


class SchedulerStatus(Protocol):
    """What /perf needs of jobs.scheduler.JobScheduler."""

    def status(self) -> list[dict[str, Any]]: ...


class PerfService:
    """Collects the numbers and answers /perf; one per process."""

    def __init__(
        self,
        *,
        caches: CacheRegistry,
        metrics: Metrics,
        engine: AsyncEngine,
        admins: AdminCheck,
        scheduler: Callable[[], SchedulerStatus | None] = lambda: None,
        health: ConfigHealth | None = None,
        feedback: Callable[[], dict[str, Any]] | None = None,
        before_report: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self._caches = caches
        self._metrics = metrics
        self._engine = engine
        self._admins = admins
        # A getter, not the scheduler: it is built (and may be replaced) after this service.
        self.scheduler = scheduler
        self._health = health
        # Reply feedback (bot.feedback): its last figures, and how /perf recounts them first.
        self._feedback = feedback
        self._before_report = before_report

    # ------------------------------------------------------------------ data

    def collect(self, section: str | None = None) -> dict[str, Any]:
        """A JSON-ready snapshot: everything, or one of ``SECTIONS``."""
        metrics = self._metrics
        data: dict[str, Any] = {
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "window_seconds": metrics.window_seconds,
            "process": {
                "uptime_seconds": round(metrics.uptime_seconds(), 1),
                "rss_bytes": metrics.rss_bytes(),
            },
        }
        if section is None and self._health is not None:
            data["config"] = {"problems": self._health.snapshot()}
        if section in (None, "cache"):
            data["caches"] = self._caches.stats()
        if section is None:
            data["listeners"] = {
                "slow_request_ms": metrics.slow_request_ms,
                "slow_requests": metrics.slow_requests,
                "by_listener": metrics.listeners(),
            }
        if section in (None, "llm"):
            data["llm"] = {
                "time_to_first_token_ms": metrics.model_ttft.summary(),
                "total_ms": metrics.model_total.summary(),
                "prompt_tokens": int(metrics.prompt_tokens.value),
                "completion_tokens": int(metrics.completion_tokens.value),
                "calls": metrics.model_total.lifetime_count,
                "errors": metrics.model_total.lifetime_errors,
                "crisis_replies": int(metrics.crisis_replies.value),
            }
        if section in (None, "db"):
            data["db"] = {"pool": pool_status(self._engine), "queries_ms": metrics.db_queries.summary()}
        if section is None:
            data["s3"] = metrics.transfers()
        if section in (None, "jobs"):
            data["jobs"] = self._jobs()
        if section in (None, "feedback") and self._feedback is not None:
            data["feedback"] = self._feedback()
        return data

    def _jobs(self) -> dict[str, Any]:
        scheduler = self.scheduler()
        if scheduler is None:
            return {"scheduler": "off", "jobs": []}
        try:
            jobs = scheduler.status()
        except Exception as error:  # a broken status must not take the whole report down
            logger.warning("Scheduler status failed: %s", type(error).__name__)
            return {"scheduler": "unavailable", "jobs": []}
        return {"scheduler": "on", "jobs": [{k: _jsonable(v) for k, v in job.items()} for job in jobs]}

    # ------------------------------------------------------------------ the command

    async def answer_command(
        self, command: dict[str, Any], *, respond: Respond, client: AsyncWebClient
    ) -> None:
        """/perf after its ack: check who asks, then reply ephemerally (never raises)."""
        user_id = str(command.get("user_id") or "")
        team_id = str(command.get("team_id") or "")
        try:
            allowed = await self._admins.is_admin(client, team_id=team_id, user_id=user_id)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            logger.warning(
                "Could not check /perf admin status for user %s: %s", user_id, type(error).__name__
            )
            await _respond_quietly(respond, text=CHECK_FAILED)
            return
        if not allowed:
            logger.warning("Refused /perf for user %s: not an admin", user_id)
            await _respond_quietly(respond, text=REFUSAL)
            return
        section = (command.get("text") or "").strip().lower() or None
        if section is not None and section not in SECTIONS:
            await _respond_quietly(respond, text=USAGE)
            return
        if self._before_report is not None and section in (None, "feedback"):
            await self._before_report()
        data = await asyncio.to_thread(self.collect, section)
        blocks = report_blocks(data, section)
        title = f"coachbot performance ({section})" if section else "coachbot performance"
        await _respond_quietly(respond, text=title, blocks=blocks)


async def _respond_quietly(respond: Respond, **message: Any) -> None:
    try:
        await respond(response_type="ephemeral", **message)
    except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as error:
        logger.warning("Could not answer /perf: %s", type(error).__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ---------------------------------------------------------------------- Block Kit


def report_blocks(data: dict[str, Any], section: str | None = None) -> list[dict[str, Any]]:
    """The snapshot as Block Kit: a header, one section per area, a context footer."""
    title = "coachbot performance" + (f" · {section}" if section else "")
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    parts: list[tuple[str, list[str]]] = []
    if "config" in data:
        parts.append(("Configuration", _config_lines(data["config"])))
    if "caches" in data:
        parts.append(("Caches", _cache_lines(data["caches"])))
    if "listeners" in data:
        parts.append(("Slack listeners", _listener_lines(data["listeners"])))
    if "llm" in data:
        parts.append(("OpenAI", _llm_lines(data["llm"])))
    if "db" in data:
        parts.append(("Database", _db_lines(data["db"])))
    if "s3" in data:
        parts.append(("File transfers (S3)", _s3_lines(data["s3"])))
    if "jobs" in data:
        parts.append(("Jobs", _job_lines(data["jobs"])))
    if "feedback" in data:
        parts.append(
            (f"Reply feedback (last {data['feedback']['days']} days)", _feedback_lines(data["feedback"]))
        )
    for heading, lines in parts:
        text = f"*{heading}*\n" + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    process = data["process"]
    footer = (
        f"Up {_duration(process['uptime_seconds'])} · RSS {_bytes(process['rss_bytes'])} · "
        f"latencies over the last {round(data['window_seconds'] / 60)} min · {data['generated_at']}"
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return blocks


def _config_lines(config: dict[str, Any]) -> list[str]:
    problems = config["problems"]
    if not problems:
        return ["no configuration problems seen lately"]
    return [
        f":warning: `{p['setting']}` {p['reason']} · since {_when(p['since'])} · last {_when(p['last_seen'])}"
        f" · {p['count']}×"
        for p in problems
    ]


def _cache_lines(caches: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, s in caches.items():
        lookups = s["hits"] + s["misses"]
        rate = f"{s['hit_rate']:.0%} hits ({s['hits']}/{lookups})" if lookups else "no lookups yet"
        lines.append(
            f"`{name}` {rate} · {s['entries']}/{s['maxsize']} entries · {s['evictions']} evicted"
            f" · ~{_bytes(s['memory_bytes'])} · TTL {s['ttl']:g} s"
        )
    return lines


def _window(summary: dict[str, Any]) -> str:
    if not summary["count"]:
        return "no data"
    errors = f" · {summary['errors']} errors" if summary["errors"] else ""
    return (
        f"p50 {_ms(summary['p50'])} · p95 {_ms(summary['p95'])} · p99 {_ms(summary['p99'])} "
        f"· n={summary['count']}{errors}"
    )


def _listener_lines(listeners: dict[str, Any]) -> list[str]:
    lines = [
        f"{listeners['slow_requests']} slow requests (over {listeners['slow_request_ms']} ms of our own time)"
    ]
    ranked = sorted(listeners["by_listener"].items(), key=lambda item: -item[1]["total_ms"]["count"])
    for name, row in ranked[:MAX_LISTENER_LINES]:
        own, total = row["own_ms"], row["total_ms"]
        with_model = f" (with the model: p95 {_ms(total['p95'])})" if total["p95"] != own["p95"] else ""
        lines.append(f"`{name}` {_window(own)}{with_model}")
    if len(ranked) == 0:
        lines.append("no listener has run yet")
    return lines


def _llm_lines(llm: dict[str, Any]) -> list[str]:
    return [
        f"Time to first token: {_window(llm['time_to_first_token_ms'])}",
        f"Whole reply: {_window(llm['total_ms'])}",
        f"Tokens: {llm['prompt_tokens']} prompt, {llm['completion_tokens']} completion "
        f"({llm['calls']} calls, {llm['errors']} failed, since start)",
        f"Crisis care: {llm['crisis_replies']} caring replies in place of coaching, since start",
    ]


def _db_lines(db: dict[str, Any]) -> list[str]:
    pool = db["pool"]
    if "size" in pool:
        # SQLAlchemy's overflow counter is negative while fewer than ``size`` connections exist.
        pool_line = (
            f"Pool ({pool['pool']}): size {pool['size']} · checked out {pool.get('checked_out', '?')}"
            f" · overflow {max(0, pool.get('overflow', 0))}/{pool.get('max_overflow', '?')}"
        )
    else:
        pool_line = f"Pool: {pool['pool']} (no size limits)"
    return [pool_line, f"Queries: {_window(db['queries_ms'])}"]


def _s3_lines(s3: dict[str, dict[str, Any]]) -> list[str]:
    if not s3:
        return ["no transfers yet"]
    lines = []
    for direction, row in s3.items():
        line = f"{direction}: {row['count']} · {_bytes(row['bytes'])} in {row['seconds']:.1f} s"
        if row["bytes_per_second"] is not None:
            line += f" · {_bytes(row['bytes_per_second'])}/s"
        if row["errors"]:
            line += f" · {row['errors']} failed"
        lines.append(line)
    return lines


def _job_lines(jobs: dict[str, Any]) -> list[str]:
    if jobs["scheduler"] != "on":
        return [f"scheduler {jobs['scheduler']}"]
    if not jobs["jobs"]:
        return ["no jobs scheduled"]
    lines = []
    for job in jobs["jobs"]:
        line = f"`{job.get('id')}` next {_when(job.get('next_run'))}"
        line += f" · last {job.get('last_outcome') or 'not run yet'}"
        if job.get("last_duration_ms") is not None:
            line += f" ({_ms(job['last_duration_ms'])})"
        lines.append(line)
    return lines


def _feedback_lines(feedback: dict[str, Any]) -> list[str]:
    presses = sum(p["count"] for p in feedback["presses"])
    return [
        *feedback["lines"],
        f"{presses} presses since start · – : fewer than {MIN_COACHES} coaches behind it, so not shown",
    ]


def _when(iso: object) -> str:
    """An ISO time as Slack's date token: each reader sees it in their own timezone."""
    if not isinstance(iso, str):
        return "—"
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    fallback = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _bytes(value: float | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"
