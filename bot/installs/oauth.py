"""Bolt's OAuth flow on the app's own database, every Slack call of it through SLACK_API_URL.

``AsyncOAuthSettings`` builds its own ``AsyncInstallationStoreAuthorize`` without a client, and
that authorize's token rotator would then refresh tokens through a default client on
slack.com; ours is given the app's client (its base URL, pooled session and retry handlers),
so the code exchange, every refresh and every call after them go where SLACK_API_URL says.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from cachetools import TTLCache
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.installs.scopes import BOT_SCOPES
from storage.models import OAUTH_STATES_TABLE
from storage.workspaces import WorkspaceInstallationStore

STATE_EXPIRATION_SECONDS = 600
AUTHORIZE_CACHE_ENTRIES = 10_000
AUTHORIZE_CACHE_SECONDS = 3600.0
#: Refresh a rotating token when it has less than this left (Slack's tokens last 12 hours).
REFRESH_MINUTES_BEFORE_EXPIRY = 120


def authorize_url(slack_api_url: str) -> str:
    """Slack's authorize page beside its Web API: ``https://slack.com/oauth/v2/authorize``."""
    parts = urlsplit(slack_api_url)
    path = parts.path.rstrip("/")
    root = path[: -len("/api")] if path.endswith("/api") else path
    return urlunsplit(parts._replace(path=f"{root}/oauth/v2/authorize", query="", fragment=""))


def build_oauth_settings(
    *,
    client_id: str,
    client_secret: str,
    scopes: tuple[str, ...],
    redirect_uri: str | None,
    slack_api_url: str,
    engine: AsyncEngine,
    client: AsyncWebClient,
) -> AsyncOAuthSettings:
    """Install at /slack/install, redirect to /slack/oauth_redirect, installations in our tables."""
    store = WorkspaceInstallationStore(client_id, engine)
    settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(scopes or BOT_SCOPES),
        user_scopes=[],
        redirect_uri=redirect_uri,
        authorization_url=authorize_url(slack_api_url),
        installation_store=store,
        token_rotation_expiration_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
        state_store=AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine, table_name=OAUTH_STATES_TABLE
        ),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
    )
    authorize = AsyncInstallationStoreAuthorize(
        logger=logging.getLogger("slack_bolt.authorize"),
        client_id=client_id,
        client_secret=client_secret,
        installation_store=store,
        token_rotation_expiration_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
        client=client,
        cache_enabled=True,
    )
    # Without the cache Bolt calls auth.test on every request (a Slack round trip before each
    # turn). Keyed by token, so a refreshed token is looked up afresh and a deleted installation
    # is never served from it (the store is read first); bounded here, where Bolt's dict is not.
    authorize.authorize_result_cache = TTLCache(maxsize=AUTHORIZE_CACHE_ENTRIES, ttl=AUTHORIZE_CACHE_SECONDS)
    settings.authorize = authorize
    return settings
