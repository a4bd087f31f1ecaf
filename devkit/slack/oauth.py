"""Installing the app as Slack does: the authorize page, ``oauth.v2.access``, rotation, uninstall.

What Slack documents, enforced:

- ``GET /oauth/v2/authorize?client_id&scope&state&redirect_uri`` (the page an "Add to Slack" link
  opens) answers with a redirect to ``redirect_uri?code=…&state=…``; the installing workspace
  is the ``team`` parameter (as on Slack's own URL), else the emulator's first workspace. An
  unknown ``client_id``, no ``scope``, or a ``redirect_uri`` other than the app's is refused.
- ``oauth.v2.access`` takes the client id and secret by HTTP Basic auth (or as form fields), and
  either ``code`` (once, within 10 minutes, with the same ``redirect_uri`` the authorize request
  had) or ``grant_type=refresh_token`` with a ``refresh_token``. Errors: ``invalid_client_id``,
  ``bad_client_secret``, ``invalid_code``, ``bad_redirect_uri``, ``invalid_grant_type``,
  ``invalid_refresh_token``.
- With token rotation on, a bot token starts ``xoxe.xoxb-``, expires after ``expires_in``
  seconds (12 hours unless told), and a call with it after that fails ``token_expired``; the
  refresh token is single-use. A refresh gives a new token and refresh token; the old token keeps
  working until it expires, as Slack's does.
- Every token is valid for its own workspace only; ``uninstall`` revokes them all
  (``invalid_auth``/``token_revoked`` from then on) and gives the ``app_uninstalled`` event.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from devkit.slack.core import EmulatorCore
from devkit.slack.records import SlackError

CODE_LIFETIME_SECONDS = 600
DEFAULT_TOKEN_LIFETIME_SECONDS = 12 * 3600


@dataclass
class OAuthApp:
    """A distributed app's credentials, as on its Basic Information page."""

    client_id: str
    client_secret: str
    redirect_uri: str | None = None
    token_rotation: bool = False
    token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS


@dataclass
class InstallableWorkspace:
    """A workspace (or, with ``org_wide``, a whole Grid org) that can install the app."""

    team_id: str
    team_name: str
    installer: str = "U0ADMIN"
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    org_wide: bool = False


@dataclass
class _Code:
    client_id: str
    workspace: InstallableWorkspace
    redirect_uri: str | None
    scopes: tuple[str, ...]
    issued_at: float


@dataclass
class _Grant:
    """What a token or refresh token was issued for."""

    client_id: str
    workspace: InstallableWorkspace
    scopes: tuple[str, ...]
    expires_at: float | None = None  # wall-clock; None: never (rotation off)
    revoked: bool = False
    tokens: list[str] = field(default_factory=list)


class OAuthMixin(EmulatorCore):
    """The install flow's Slack side; ``oauth_app`` and ``add_installable_workspace`` set it up."""

    def _setup_oauth(self) -> None:
        self._oauth_apps: dict[str, OAuthApp] = {}
        self._installable: dict[str, InstallableWorkspace] = {}
        self._codes: dict[str, _Code] = {}
        self._grants_by_token: dict[str, _Grant] = {}
        self._grants_by_refresh: dict[str, _Grant] = {}
        self._wall_clock = time.time

    # ----------------------------------------------------------------- set-up, for tests and the demo

    def oauth_app(
        self,
        client_id: str = "devkit-client-id",
        client_secret: str = "devkit-client-secret",
        *,
        redirect_uri: str | None = None,
        token_rotation: bool = False,
        token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS,
    ) -> OAuthApp:
        """Make the app installable by OAuth with these credentials."""
        app = OAuthApp(client_id, client_secret, redirect_uri, token_rotation, token_lifetime_seconds)
        with self._lock:
            self._oauth_apps[client_id] = app
        return app

    def add_installable_workspace(
        self,
        team_id: str,
        team_name: str | None = None,
        *,
        installer: str = "U0ADMIN",
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        org_wide: bool = False,
    ) -> InstallableWorkspace:
        """A workspace whose admin may install the app (``org_wide``: for its whole Grid org)."""
        workspace = InstallableWorkspace(
            team_id, team_name or team_id, installer, enterprise_id, enterprise_name, org_wide
        )
        with self._lock:
            self._installable[team_id] = workspace
        return workspace

    @property
    def authorize_url(self) -> str:
        """Slack's ``https://slack.com/oauth/v2/authorize``, here."""
        return f"{self.origin}/oauth/v2/authorize"

    def tokens_of(self, team_id: str) -> list[str]:
        """The bot tokens issued to a workspace, oldest first (revoked ones included)."""
        with self._lock:
            return [t for t, g in self._grants_by_token.items() if g.workspace.team_id == team_id]

    def expire_token(self, token: str) -> None:
        """Make ``token`` expire now, as 12 hours passing would."""
        with self._lock:
            self._grants_by_token[token].expires_at = self._wall_clock() - 1

    def uninstall(self, team_id: str) -> dict[str, Any]:
        """The workspace removes the app: its tokens stop working; the ``app_uninstalled`` event."""
        with self._lock:
            for grant in self._grants_by_token.values():
                if grant.workspace.team_id == team_id:
                    grant.revoked = True
            self._teams_by_token = {
                token: team for token, team in self._teams_by_token.items() if team != team_id
            }
        return {"type": "app_uninstalled", "event_ts": self.ts()}

    def tokens_revoked_event(self, team_id: str) -> dict[str, Any]:
        """An admin revokes the bot token: it stops working; the ``tokens_revoked`` event."""
        self.uninstall(team_id)
        return {
            "type": "tokens_revoked",
            "tokens": {"oauth": [], "bot": [self.bot_user_id]},
            "event_ts": self.ts(),
        }

    def token_problem(self, token: str) -> str | None:
        """``token_expired`` / ``token_revoked`` for an OAuth token Slack no longer takes."""
        with self._lock:
            grant = self._grants_by_token.get(token)
        if grant is None:
            return None
        if grant.revoked:
            return "token_revoked"
        if grant.expires_at is not None and self._wall_clock() >= grant.expires_at:
            return "token_expired"
        return None

    # ----------------------------------------------------------------- the authorize page

    async def _handle_authorize(self, request: web.Request) -> web.Response:
        query = request.query
        app = self._oauth_apps.get(query.get("client_id", ""))
        if app is None:
            return web.Response(status=400, text="Invalid client_id parameter")
        scopes = tuple(s for s in query.get("scope", "").split(",") if s)
        if not scopes:
            return web.Response(status=400, text="Missing scope parameter")
        redirect_uri = query.get("redirect_uri") or app.redirect_uri
        if not redirect_uri or (app.redirect_uri and not redirect_uri.startswith(app.redirect_uri)):
            return web.Response(status=400, text="redirect_uri did not match any configured URIs")
        with self._lock:
            team = query.get("team") or next(iter(self._installable), "")
            workspace = self._installable.get(team)
        if workspace is None:
            return web.Response(status=400, text="No workspace can install this app")
        code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        with self._lock:
            self._codes[code] = _Code(
                app.client_id, workspace, query.get("redirect_uri"), scopes, self._wall_clock()
            )
        target = _with_query(redirect_uri, code=code, state=query.get("state", ""))
        raise web.HTTPFound(target)

    # ----------------------------------------------------------------- oauth.v2.access

    def _oauth_v2_access(self, args: dict[str, Any], authorization: str) -> dict[str, Any]:
        client_id, client_secret = _client_credentials(args, authorization)
        app = self._oauth_apps.get(client_id)
        if app is None:
            raise SlackError("invalid_client_id")
        if client_secret != app.client_secret:
            raise SlackError("bad_client_secret")
        grant_type = str(args.get("grant_type") or "authorization_code")
        if grant_type == "refresh_token":
            return self._refresh(app, str(args.get("refresh_token") or ""))
        if grant_type != "authorization_code":
            raise SlackError("invalid_grant_type")
        with self._lock:
            code = self._codes.pop(str(args.get("code") or ""), None)
        if code is None or code.client_id != client_id:
            raise SlackError("invalid_code")
        if self._wall_clock() - code.issued_at > CODE_LIFETIME_SECONDS:
            raise SlackError("invalid_code")
        if code.redirect_uri and args.get("redirect_uri") != code.redirect_uri:
            raise SlackError("bad_redirect_uri")
        grant = _Grant(app.client_id, code.workspace, code.scopes)
        return self._issue(app, grant)

    def _refresh(self, app: OAuthApp, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            grant = self._grants_by_refresh.pop(refresh_token, None)
        if grant is None or grant.client_id != app.client_id or grant.revoked:
            raise SlackError("invalid_refresh_token")
        return self._issue(app, grant)

    def _issue(self, app: OAuthApp, grant: _Grant) -> dict[str, Any]:
        workspace = grant.workspace
        prefix = "xoxe.xoxb-" if app.token_rotation else "xoxb-"
        token = f"{prefix}{workspace.team_id}-{secrets.token_hex(12)}"
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(grant.scopes),
            "bot_user_id": self.bot_user_id,
            "app_id": self.app_id,
            "team": None if workspace.org_wide else {"id": workspace.team_id, "name": workspace.team_name},
            "enterprise": (
                {"id": workspace.enterprise_id, "name": workspace.enterprise_name or workspace.enterprise_id}
                if workspace.enterprise_id
                else None
            ),
            "is_enterprise_install": workspace.org_wide,
            "authed_user": {"id": workspace.installer},
        }
        own = _Grant(grant.client_id, workspace, grant.scopes)
        if app.token_rotation:
            refresh_token = f"xoxe-1-{secrets.token_hex(16)}"
            own.expires_at = self._wall_clock() + app.token_lifetime_seconds
            answer["refresh_token"] = refresh_token
            answer["expires_in"] = app.token_lifetime_seconds
            with self._lock:
                self._grants_by_refresh[refresh_token] = own
        with self._lock:
            self._grants_by_token[token] = own
            self._teams_by_token[token] = workspace.team_id
            self._enterprise_by_team[workspace.team_id] = workspace.enterprise_id
            if workspace.org_wide and workspace.enterprise_id:
                self._org_wide_enterprises.add(workspace.enterprise_id)
        return answer


def _client_credentials(args: dict[str, Any], authorization: str) -> tuple[str, str]:
    """HTTP Basic (what Slack prefers and slack_sdk sends), else the form fields."""
    if authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization[len("Basic ") :]).decode("utf-8")
        except ValueError:
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return str(args.get("client_id") or ""), str(args.get("client_secret") or "")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
