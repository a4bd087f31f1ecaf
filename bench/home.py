"""The App Home for a coach with 500 sessions: app_home_opened → views.publish received by the emulator.

Seeds one coach (``bench.home_seed``: 500 sessions, 40 of them active, goals, open commitments,
30 stored files, and other coaches' rows around them) into the app's own database, then opens
their Home again and again through the real event path: a signed ``app_home_opened`` (tab
"home", carrying the Home as it stands, with its ``hash``, as Slack's event does) POSTed to
``/slack/events``, acknowledged, the Home read and published. Each open is timed from just
before the POST to the moment the emulator received the ``views.publish`` (both perf_counter,
CLOCK_MONOTONIC across processes). Opens are sequential, as one coach's are. The first is a
warm-up (it fills the users.info and workspace URL caches) and is reported apart.
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.harness import Check, Harness, Row, ScenarioError, ScenarioResult
from bench.home_seed import HomeHistory, seed_home_coach
from bench.load import BOT_USER_ID, TEAM_ID
from bench.processes import SIGNING_SECRET
from bench.stats import ms, summarize
from devkit import payloads
from devkit.signing import sign

COACH = "U0COACH"
OPENS, QUICK_OPENS = 60, 20
PUBLISH_TARGET_MS = 300.0
POLL_S = 0.002
TIMEOUT_S = 10.0


def _open_event(secret: str, view: dict | None) -> tuple[bytes, dict[str, str]]:
    """The event as Slack sends it: with the Home as it stands (its ``hash``) once one was published."""
    event = payloads.app_home_opened_event(
        user=COACH, channel="D0COACH", tab="home", event_ts=f"{time.time():.6f}", view=view
    )
    body = json.dumps(payloads.event_callback(event, team_id=TEAM_ID, bot_user_id=BOT_USER_ID)).encode()
    return body, {"Content-Type": "application/json", **sign(secret, body)}


async def _open_once(h: Harness, secret: str, published: int) -> tuple[float | None, int, dict]:
    """One open: POST it, wait for the next views.publish; (ms to it, publishes so far, the call)."""
    body, headers = _open_event(secret, await h.slack_api.get("/_devkit/home_view", user=COACH))
    sent_at = time.perf_counter()
    async with h.session.post(h.app.events_url, data=body, headers=headers) as response:
        if response.status != 200:
            raise ScenarioError(f"app_home_opened answered {response.status}")
    deadline = sent_at + TIMEOUT_S
    while time.perf_counter() < deadline:
        calls = await h.slack_api.get("/_devkit/calls", method="views.publish", since=str(published))
        if calls:
            return ms(sent_at, calls[0]["at"]), published + 1, calls[0]
        await asyncio.sleep(POLL_S)
    raise ScenarioError("no views.publish within 10 s of app_home_opened")


async def home(h: Harness) -> ScenarioResult:
    opens = QUICK_OPENS if h.options.quick else OPENS
    history = HomeHistory()
    result = ScenarioResult(
        "home",
        f"App Home, a coach with {history.sessions} sessions: app_home_opened → views.publish, {opens} opens",
    )
    if h.database_url is None:
        raise ScenarioError("needs the app's database URL to seed the coach")
    await asyncio.to_thread(seed_home_coach, h.database_url, TEAM_ID, COACH, history)
    await h.reset_fakes()
    secret = SIGNING_SECRET
    first, published, call = await _open_once(h, secret, 0)
    times = []
    for _ in range(opens):
        elapsed, published, call = await _open_once(h, secret, published)
        times.append(elapsed)
    view = call["args"].get("view")
    view = json.loads(view) if isinstance(view, str) else view or {}
    blocks = len(view.get("blocks") or [])
    errors = sum(1 for c in await h.slack_api.get("/_devkit/calls", method="views.publish") if c.get("error"))
    publish = summarize(times)
    result.metrics = {
        "sessions": history.sessions,
        "opens": opens,
        "first_open_ms": first,
        "open_to_publish_ms": publish,
        "blocks": blocks,
        "view_bytes": len(json.dumps(view)),
        "publish_errors": errors,
    }
    result.rows = [
        Row(
            "first open (users.info and workspace URL looked up)", value=f"{first:.1f} ms" if first else None
        ),
        Row("app_home_opened → views.publish received", publish),
        Row("blocks in the view (Slack's limit: 100)", value=blocks),
        Row("views.publish errors", value=errors),
    ]
    result.checks = [
        Check("home: app_home_opened → views.publish p95", publish.get("p95"), PUBLISH_TARGET_MS),
        Check("home: blocks in the view", float(blocks), 100.0, "blocks"),
        Check("home: views.publish errors", float(errors), 0.0, "errors"),
    ]
    result.highlights = [
        f"home ({history.sessions} sessions): app_home_opened → views.publish p50 {publish.get('p50')} ms, "
        f"p95 {publish.get('p95')} ms; {blocks} blocks"
    ]
    return result
