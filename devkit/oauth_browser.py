"""A browser for the install flow: open the app's "Add to Slack" page, click it, approve in Slack.

Like a browser it brings Bolt's OAuth state cookie back with the redirect. Bolt marks that cookie
``Secure``; browsers keep such cookies for http://127.0.0.1 and localhost (secure contexts),
which Python's cookie jar does not, so the cookie is carried here by hand. For the demo and
tests: ``install(app_url, team_id=…)``.
"""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

_ADD_TO_SLACK_LINK = re.compile(r'href="(?P<url>[^"]*oauth/v2/authorize[^"]*)"')


@dataclass(frozen=True)
class InstallOutcome:
    status: int
    page: str  # the app's answer at its redirect URL


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def install(app_url: str, *, team_id: str, timeout: float = 10.0) -> InstallOutcome:
    """Install the app served at ``app_url`` into ``team_id`` through Slack's authorize page."""
    with urllib.request.urlopen(f"{app_url}/slack/install", timeout=timeout) as response:
        page = response.read().decode("utf-8")
        cookies = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
    match = _ADD_TO_SLACK_LINK.search(page)
    if match is None:
        raise AssertionError("the install page has no Add to Slack link")
    authorize = html.unescape(match["url"]) + "&" + urlencode({"team": team_id})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(authorize, timeout=timeout) as response:
            return InstallOutcome(response.status, response.read().decode("utf-8"))  # no redirect
    except urllib.error.HTTPError as error:
        if error.code != 302:
            return InstallOutcome(error.code, error.read().decode("utf-8", "replace"))
        back = error.headers["Location"]
    request = urllib.request.Request(back, headers={"Cookie": "; ".join(cookies)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return InstallOutcome(response.status, response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        return InstallOutcome(error.code, error.read().decode("utf-8", "replace"))
