"""Links to a session's thread, built from the workspace's URL: no Slack call per session.

A thread's permalink is ``<workspace url>archives/<channel>/p<ts without the dot>`` (the shape
chat.getPermalink answers). The workspace URL comes with each request (Bolt's authorize result,
from auth.test); work without one (a wrap-up by the idle job) asks auth.test once per workspace
and keeps the answer in the "slack_api" cache.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from storage.caches import CountingTTLCache

logger = logging.getLogger(__name__)


def thread_link(team_url: str | None, team_id: str, channel_id: str, thread_ts: str) -> str:
    """The thread's permalink; without the workspace URL, Slack's redirect to its conversation."""
    if team_url:
        return f"{team_url.rstrip('/')}/archives/{channel_id}/p{thread_ts.replace('.', '')}"
    return "https://slack.com/app_redirect?" + urlencode({"team": team_id, "channel": channel_id})


class TeamUrls:
    """Each workspace's ``https://<domain>.slack.com/``, as auth.test gives it."""

    def __init__(self, cache: CountingTTLCache[tuple[str, str], str]) -> None:
        self._cache = cache

    async def url_for(self, team_id: str, client: AsyncWebClient, known: str | None = None) -> str | None:
        key = ("team_url", team_id)
        if known:
            self._cache.set(key, known)
            return known
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            url = str((await client.auth_test()).get("url") or "")
        except SLACK_ERRORS as error:
            logger.warning("auth.test failed for the Home's links (error=%s)", slack_error_name(error))
            return None
        if url:
            self._cache.set(key, url)
        return url or None
