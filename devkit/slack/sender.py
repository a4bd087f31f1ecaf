"""Acting as Slack towards the app: user messages and their events, signed deliveries with
Slack's retries, slash commands with a response_url served here, and interactions (button
presses, modal submissions) with trigger_ids the views methods accept."""

from __future__ import annotations

import http.client
import itertools
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from devkit import payloads
from devkit.signing import sign
from devkit.slack.records import Delivery, Message
from devkit.slack.views import ViewsMixin


class EventSenderMixin(ViewsMixin):
    """Builds the events a user's action causes and POSTs them, signed, to the app."""

    def _setup_sender(self) -> None:
        self._response_ids = itertools.count(1)

    def user_says(
        self,
        *,
        channel: str,
        text: str,
        user: str = "U0COACH",
        thread_ts: str | None = None,
        channel_type: str = "im",
        ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        subtype: str | None = None,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a user's message and return its ``message`` event, for ``send_event``/``deliver``.

        With ``files`` (objects from ``add_file``) it is a ``file_share`` message, as Slack
        sends when a file is dropped into the conversation (``text`` may then be empty).
        """
        ts = ts or self.ts()
        team = self._team_for(channel, team_id)
        with self._lock:
            self._store.add(Message(ts=ts, channel=channel, thread_ts=thread_ts, text=text, user=user))
        event = payloads.message_event(
            channel=channel,
            user=user,
            text=text,
            ts=ts,
            team_id=team,
            channel_type=channel_type,
            thread_ts=thread_ts,
        )
        if files:
            event["files"] = [dict(f) for f in files]
            event["upload"] = False
            event["display_as_bot"] = False
            if not text:
                event.pop("blocks", None)
        subtype = subtype or ("file_share" if files else None)
        if subtype:
            event["subtype"] = subtype
        return event

    def file_share(
        self,
        *,
        channel: str,
        files: list[dict[str, Any]],
        text: str = "",
        user: str = "U0COACH",
        thread_ts: str | None = None,
        channel_type: str = "im",
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """The ``message``/``file_share`` event for files (from ``add_file``) dropped in a conversation."""
        return self.user_says(
            channel=channel,
            text=text,
            user=user,
            thread_ts=thread_ts,
            channel_type=channel_type,
            files=files,
            team_id=team_id,
        )

    def mention(
        self,
        *,
        channel: str,
        text: str,
        user: str = "U0COACH",
        thread_ts: str | None = None,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a message mentioning the bot and return its ``app_mention`` event."""
        ts = self.ts()
        event = payloads.app_mention_event(
            channel=channel,
            user=user,
            text=text,
            ts=ts,
            team_id=self._team_for(channel, team_id),
            bot_user_id=self.bot_user_id,
            thread_ts=thread_ts,
        )
        with self._lock:
            self._store.add(
                Message(ts=ts, channel=channel, thread_ts=thread_ts, text=event["text"], user=user)
            )
        return event

    def assistant_thread_started(
        self, *, channel: str, thread_ts: str, user: str = "U0COACH"
    ) -> dict[str, Any]:
        """The event Slack sends when the user opens a new assistant thread."""
        return payloads.assistant_thread_started_event(
            channel=channel, thread_ts=thread_ts, user=user, team_id=self.team_id, event_ts=self.ts()
        )

    def app_home_opened(self, *, user: str, channel: str, tab: str = "home") -> dict[str, Any]:
        """The event Slack sends each time ``user`` opens the App Home; on the Home tab, once a
        view was published there, it carries that view as it stands (its ``hash`` included)."""
        view = self.home_view(user) if tab == "home" else None
        return payloads.app_home_opened_event(
            user=user, channel=channel, event_ts=self.ts(), tab=tab, view=dict(view) if view else None
        )

    def envelope(
        self, event: dict[str, Any], *, event_id: str | None = None, team_id: str | None = None
    ) -> dict[str, Any]:
        """Wrap an event in the ``event_callback`` body Slack POSTs (from the event's own team)."""
        team = team_id or event.get("team") or self.team_id
        enterprise = self.enterprise_of(team)
        return payloads.event_callback(
            event,
            team_id=team,
            bot_user_id=self.bot_user_id,
            api_app_id=self.app_id,
            event_id=event_id,
            enterprise_id=enterprise,
            is_enterprise_install=self.installed_org_wide(enterprise),
        )

    def _team_for(self, channel: str, team_id: str | None) -> str:
        """The workspace a user acts in: ``team_id`` (which then owns the channel), else the default."""
        if team_id is None:
            return self.team_id
        self.place_channel(channel, team_id)
        return team_id

    def post_signed(
        self,
        url: str,
        body: bytes | str,
        content_type: str = "application/json",
        *,
        headers: dict[str, str] | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        timeout: float = 10,
    ) -> Delivery:
        """POST ``body`` signed like Slack (override ``secret``/``timestamp`` to send a bad/stale one).

        Synchronous (http.client): from a coroutine sharing a loop with the app,
        call it via ``asyncio.to_thread`` or the app cannot answer.
        """
        raw = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **sign(self.signing_secret if secret is None else secret, raw, timestamp),
            **(headers or {}),
        }
        return _http_post(url, raw, all_headers, timeout)

    def send_event(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timeout: float = 10,
    ) -> Delivery:
        """Deliver one event (or a ready ``event_callback`` body) once, signed."""
        body = event if event.get("type") == "event_callback" else self.envelope(event, event_id=event_id)
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return self.post_signed(url, json.dumps(body).encode("utf-8"), headers=headers, timeout=timeout)

    def deliver(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        ack_timeout: float = 3.0,
        max_retries: int = 3,
    ) -> list[Delivery]:
        """Deliver like Slack: retry (same event_id, X-Slack-Retry-Num 1..n) until a 2xx arrives in time."""
        body = event if event.get("type") == "event_callback" else self.envelope(event, event_id=event_id)
        deliveries: list[Delivery] = []
        for attempt in range(max_retries + 1):
            retry_num = attempt or None
            reason = _retry_reason(deliveries[-1]) if deliveries else "http_timeout"
            delivery = self.send_event(
                url, body, retry_num=retry_num, retry_reason=reason, timeout=ack_timeout
            )
            deliveries.append(delivery)
            if delivery.ok:
                break
        return deliveries

    def command_payload(
        self,
        command: str = "/perf",
        text: str = "",
        *,
        user_id: str = "U0ADMIN",
        channel_id: str = "C0GENERAL",
        team_id: str | None = None,
    ) -> dict[str, str]:
        """The form fields of a slash command, with a response_url served by this emulator."""
        team = self._team_for(channel_id, team_id)
        enterprise = self.enterprise_of(team)
        return payloads.slash_command(
            command=command,
            text=text,
            user_id=user_id,
            user_name=self._user_name(user_id),
            channel_id=channel_id,
            team_id=team,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            response_url=self._new_response_url(),
            trigger_id=self.issue_trigger(),
            enterprise_id=enterprise,
            is_enterprise_install=self.installed_org_wide(enterprise),
        )

    def _new_response_url(self) -> str:
        return f"{self.origin}/response_url/{next(self._response_ids)}-{secrets.token_hex(4)}"

    def send_command(
        self,
        url: str,
        command: str = "/perf",
        text: str = "",
        *,
        user_id: str = "U0ADMIN",
        channel_id: str = "C0GENERAL",
        timeout: float = 10,
        team_id: str | None = None,
    ) -> Delivery:
        """POST a signed, form-encoded slash command like Slack does."""
        form = self.command_payload(command, text, user_id=user_id, channel_id=channel_id, team_id=team_id)
        return self.post_signed(
            url, urlencode(form).encode("ascii"), "application/x-www-form-urlencoded", timeout=timeout
        )

    def send_block_action(
        self,
        url: str,
        action: dict[str, Any],
        *,
        user_id: str = "U0ADMIN",
        channel_id: str = "C0GENERAL",
        team_id: str | None = None,
        timeout: float = 10,
    ) -> Delivery:
        """POST a signed ``block_actions`` payload (one input used), with a response_url served here."""
        team = self._team_for(channel_id, team_id)
        payload = payloads.input_block_actions(
            actions=[action],
            user_id=user_id,
            team_id=team,
            channel_id=channel_id,
            response_url=self._new_response_url(),
            api_app_id=self.app_id,
            enterprise_id=self.enterprise_of(team),
        )
        body = urlencode({"payload": json.dumps(payload)}).encode("ascii")
        return self.post_signed(url, body, "application/x-www-form-urlencoded", timeout=timeout)

    def block_actions(
        self,
        *,
        user_id: str,
        action: dict[str, Any],
        message: Message | None = None,
        view: dict[str, Any] | None = None,
        channel: str | None = None,
        ephemeral: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``block_actions`` payload of a press of ``action`` (an element of the app's blocks,
        with its ``block_id``) in ``message``, in ``view`` (a modal or App Home) or in an
        ``ephemeral`` message (its channel, thread_ts and the ``values`` typed into its inputs)."""
        container: dict[str, Any]
        state: dict[str, Any] = {}
        if view is not None:
            container = {"type": "view", "view_id": view["id"]}
        elif ephemeral is not None:
            channel = str(ephemeral.get("channel") or "")
            container = {
                "type": "message",
                "message_ts": self.ts(),
                "channel_id": channel,
                "is_ephemeral": True,
            }
            if ephemeral.get("thread_ts"):
                container["thread_ts"] = str(ephemeral["thread_ts"])
            state = dict(ephemeral.get("values") or {})
        else:
            assert message is not None, "a button is in a message or a view"
            container = {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": False,
            }
            if message.thread_ts:
                container["thread_ts"] = message.thread_ts
        return payloads.block_actions(
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            action=action,
            container=container,
            message=self._slack_message(message) if message is not None else None,
            view=view,
            channel=channel or (message.channel if message is not None else None),
            trigger_id=self.issue_trigger(),
            response_url=self._new_response_url() if view is None else None,
            state=state,
        )

    def view_submission(
        self, *, user_id: str, view: dict[str, Any], values: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """The ``view_submission`` payload of ``view`` submitted with ``values`` (Slack's state shape)."""
        return payloads.view_submission(
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            view=dict(view, state={"values": values}),
            trigger_id=self.issue_trigger(),
        )

    def send_interaction(self, url: str, payload: dict[str, Any], *, timeout: float = 10) -> Delivery:
        """POST an interaction as Slack does: form-encoded, one ``payload`` field of JSON, signed."""
        body = urlencode({"payload": json.dumps(payload)}).encode("ascii")
        return self.post_signed(url, body, "application/x-www-form-urlencoded", timeout=timeout)

    def _user_name(self, user_id: str) -> str:
        return str(self.users.get(user_id, {}).get("name", user_id.lower()))


def _retry_reason(previous: Delivery) -> str:
    return previous.error or "http_error"


def _http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Delivery:
    """One blocking POST; a missing answer becomes status 0 with Slack's retry reason in ``error``."""
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        resp_headers = {k.lower(): v for k, v in response.getheaders()}
        return Delivery(response.status, data, resp_headers, _ms_since(started))
    except TimeoutError:
        return Delivery(0, b"", {}, _ms_since(started), error="http_timeout")
    except (OSError, http.client.HTTPException):
        return Delivery(0, b"", {}, _ms_since(started), error="connection_failed")
    finally:
        conn.close()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
