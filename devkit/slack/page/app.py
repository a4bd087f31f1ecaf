"""The page's HTTP side: the static page, the SSE feed, and a person's actions sent as Slack sends them.

What the page draws comes from the feed: every Web API call the app made (``call``), every
response_url post (``response_url``), and what the person did (``user``: their own messages,
commands, presses), each answered with the app's ``delivery`` status. The actions go through
the emulator's own builders (``devkit.payloads``) and are signed with the app's signing secret.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from devkit import payloads
from devkit.slack.emulator import SlackEmulator
from devkit.slack.page.people import PEOPLE, TEAM_CHANNEL, TEAM_CHANNEL_NAME, person
from devkit.slack.records import Delivery, Message

STATIC = Path(__file__).parent / "static"
#: The page writes "@coachbot"; Slack sends the mention as <@bot user id>.
_MENTION = re.compile(r"@coachbot\b", re.IGNORECASE)
#: A comment line this often keeps the SSE connection (and any proxy) from idling out.
_KEEPALIVE_SECONDS = 15.0


class PageActions:
    """A person's actions at the page, delivered to the app's request URL."""

    def __init__(self, emulator: SlackEmulator, events_url: str) -> None:
        self.slack = emulator
        self.events_url = events_url
        self.feed = emulator.open_feed()
        for someone in PEOPLE:
            if someone.user_id not in emulator.users:
                emulator.add_user(someone.user_id, someone.name.lower(), is_admin=someone.is_admin)

    async def _deliver(self, entry: dict[str, Any], send: Any, *args: Any) -> dict[str, Any]:
        delivery: Delivery = await run_in_threadpool(send, self.events_url, *args)
        body = delivery.body.decode("utf-8", "replace")
        self.feed.publish("delivery", of=entry["id"], status=delivery.status, error=delivery.error, body=body)
        return {"ok": delivery.ok, "status": delivery.status, "error": delivery.error, "body": body}

    async def message(
        self, user: str, channel: str, text: str, thread_ts: str | None, files: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """A message typed (or a file dropped): ``message`` as Slack sends it, and ``app_mention``
        too when it names @coachbot outside a DM (the app subscribes to both)."""
        text = _MENTION.sub(f"<@{self.slack.bot_user_id}>", text)
        in_dm = channel.startswith("D")
        event = self.slack.user_says(
            channel=channel,
            text=text,
            user=user,
            thread_ts=thread_ts,
            channel_type="im" if in_dm else "channel",
            files=files,
        )
        entry = self.feed.publish(
            "user", action="message", user=user, channel=channel, ts=event["ts"], thread_ts=thread_ts,
            text=text, files=files or [],
        )  # fmt: skip
        answer = await self._deliver(entry, self.slack.send_event, event)
        if not in_dm and f"<@{self.slack.bot_user_id}>" in text:
            mention = payloads.app_mention_event(
                channel=channel, user=user, text=text, ts=event["ts"], team_id=self.slack.team_id,
                bot_user_id=self.slack.bot_user_id, thread_ts=thread_ts,
            )  # fmt: skip
            if files:
                mention["files"] = files
            answer = await self._deliver(entry, self.slack.send_event, mention)
        return {**answer, "ts": event["ts"]}

    async def upload(
        self,
        user: str,
        channel: str,
        thread_ts: str | None,
        text: str,
        name: str,
        content: bytes,
        mimetype: str,
    ) -> dict[str, Any]:
        """A file dropped into the conversation: hosted by the emulator, shared in a ``file_share``."""
        shared = self.slack.add_file(
            name, content=content, mimetype=mimetype, filetype=_filetype(name), user=user
        )
        return await self.message(user, channel, text, thread_ts, [shared])

    async def command(self, user: str, channel: str, command: str, text: str) -> dict[str, Any]:
        form = self.slack.command_payload(command, text, user_id=user, channel_id=channel)
        entry = self.feed.publish(
            "user", action="command", user=user, channel=channel, command=command, text=text,
            response_id=urlsplit(form["response_url"]).path.rsplit("/", 1)[-1], trigger_id=form["trigger_id"],
        )  # fmt: skip
        body = urlencode(form).encode("ascii")
        return await self._deliver(entry, self._post_form, body)

    async def press(self, user: str, action: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
        """A press of a button (or another interactive element) in a message or a view."""
        message = view = None
        # An ephemeral message (its blocks, what was typed in them) is only this person's: not stored.
        ephemeral = target if target.get("ephemeral_id") is not None else None
        if target.get("view_id"):
            view = self.slack.view(str(target["view_id"]))
            if view is None:
                return {"ok": False, "status": 0, "error": "view_not_found", "body": ""}
        elif ephemeral is None:
            message = self._message(str(target.get("channel", "")), str(target.get("ts", "")))
            if message is None:
                return {"ok": False, "status": 0, "error": "message_not_found", "body": ""}
        payload = self.slack.block_actions(
            user_id=user, action=action, message=message, view=view, ephemeral=ephemeral
        )
        entry = self.feed.publish(
            "user", action="press", user=user, action_id=action.get("action_id"), target=target,
            trigger_id=payload["trigger_id"], response_id=_response_id(payload.get("response_url")),
        )  # fmt: skip
        return await self._deliver(entry, self.slack.send_interaction, payload)

    async def submit(self, user: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
        view = self.slack.view(view_id)
        if view is None:
            return {"ok": False, "status": 0, "error": "view_not_found", "body": ""}
        payload = self.slack.view_submission(user_id=user, view=view, values=values)
        entry = self.feed.publish(
            "user", action="submit", user=user, view_id=view_id, trigger_id=payload["trigger_id"]
        )
        return await self._deliver(entry, self.slack.send_interaction, payload)

    async def open_home(self, user: str, tab: str) -> dict[str, Any]:
        """The person opened coachbot's App Home: ``app_home_opened`` for the Messages or Home tab.

        Slack has no Home tab for an app whose manifest leaves it off, and sends nothing then."""
        if tab == "home" and not self.slack.home_tab_enabled:
            return {"ok": True, "status": 0, "error": "home_tab_disabled", "body": ""}
        event = self.slack.app_home_opened(user=user, channel=person(user).dm_channel, tab=tab)
        entry = self.feed.publish("user", action="open_home", user=user, tab=tab)
        return await self._deliver(entry, self.slack.send_event, event)

    def _post_form(self, url: str, body: bytes) -> Delivery:
        return self.slack.post_signed(url, body, "application/x-www-form-urlencoded")

    def _message(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.slack.messages(channel) if m.ts == ts), None)


def _filetype(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else "binary"


def _response_id(url: str | None) -> str | None:
    return urlsplit(url).path.rsplit("/", 1)[-1] if url else None


def build_page_app(emulator: SlackEmulator, events_url: str) -> Starlette:
    """The page for ``emulator``, whose actions go to the app at ``events_url``."""
    actions = PageActions(emulator, events_url)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def config(request: Request) -> Response:
        return JSONResponse(
            {
                "team": {"id": emulator.team_id, "domain": emulator.team_domain},
                "bot": {"user_id": emulator.bot_user_id, "bot_id": emulator.bot_id, "name": "coachbot"},
                "people": [p.__dict__ for p in PEOPLE],
                "channel": {"id": TEAM_CHANNEL, "name": TEAM_CHANNEL_NAME},
                "home_tab": emulator.home_tab_enabled,
            }
        )

    async def feed(request: Request) -> Response:
        after = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        return StreamingResponse(
            _follow(actions, request, int(after) if after.isdigit() else 0),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def act(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind == "upload":  # the file's bytes as the body, the rest in the query (no multipart)
            query = request.query_params
            name = query.get("name") or "file"
            mimetype = request.headers.get("content-type") or mimetypes.guess_type(name)[0] or "text/plain"
            answer = await actions.upload(
                query.get("user") or PEOPLE[0].user_id, query["channel"], query.get("thread_ts") or None,
                query.get("text") or "", name, await request.body(), mimetype,
            )  # fmt: skip
            return JSONResponse(answer)
        data = await request.json()
        user = str(data.get("user") or PEOPLE[0].user_id)
        if kind == "message":
            answer = await actions.message(
                user, str(data["channel"]), str(data.get("text", "")), data.get("thread_ts") or None, None
            )
        elif kind == "command":
            answer = await actions.command(
                user, str(data["channel"]), str(data["command"]), data.get("text", "")
            )
        elif kind == "press":
            answer = await actions.press(user, dict(data["action"]), dict(data["target"]))
        elif kind == "submit":
            answer = await actions.submit(user, str(data["view_id"]), dict(data.get("values") or {}))
        elif kind == "home":
            answer = await actions.open_home(user, str(data.get("tab") or "messages"))
        else:
            return JSONResponse({"ok": False, "error": "unknown_action"}, status_code=404)
        return JSONResponse(answer)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/config", config),
            Route("/feed", feed),
            Route("/act/{kind}", act, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]
    )


async def _follow(actions: PageActions, request: Request, after: int) -> AsyncIterator[str]:
    """The feed as Server-Sent Events: what was missed since ``after``, then each entry as it comes."""
    subscription, missed = actions.feed.subscribe(after)
    try:
        yield "retry: 1000\n\n"
        for entry in missed:
            yield _event(entry)
        while not await request.is_disconnected():
            try:
                entry = await asyncio.wait_for(subscription.queue.get(), _KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if entry is None:  # the feed ended: the page's server is stopping
                return
            yield _event(entry)
    finally:
        actions.feed.unsubscribe(subscription)


def _event(entry: dict[str, Any]) -> str:
    return f"id: {entry['id']}\ndata: {json.dumps(entry, default=str)}\n\n"
