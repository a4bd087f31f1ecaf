"""Builders for the payloads Slack sends to an app (Events API and slash commands).

Plain functions over plain dicts so tests can build an event without a running
emulator; ``SlackEmulator`` fills in its own team, bot and ts values.
Shapes follow https://api.slack.com/events and https://api.slack.com/interactivity/slash-commands.
"""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from typing import Any

VERIFICATION_TOKEN = "devkit-verification-token"
DEFAULT_APP_ID = "A0DEVKIT"

_event_counter = itertools.count(1)


def new_event_id() -> str:
    """A fresh, unique ``Ev...`` id (counter for uniqueness, random part so processes don't collide)."""
    return f"Ev{next(_event_counter):05d}{secrets.token_hex(3).upper()}"


def new_trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The rich_text block Slack attaches to every user-typed message."""
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def message_event(
    *,
    channel: str,
    user: str,
    text: str,
    ts: str,
    team_id: str,
    channel_type: str = "im",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A user's ``message`` event as delivered in ``event_callback.event``."""
    event: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": rich_text_blocks(text),
        "team": team_id,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_mention_event(
    *,
    channel: str,
    user: str,
    text: str,
    ts: str,
    team_id: str,
    bot_user_id: str,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` event; prefixes ``<@bot>`` unless the text already mentions the bot."""
    mention = f"<@{bot_user_id}>"
    full_text = text if mention in text else f"{mention} {text}"
    event: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "app_mention",
        "text": full_text,
        "user": user,
        "ts": ts,
        "blocks": rich_text_blocks(full_text),
        "team": team_id,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def assistant_thread_started_event(
    *,
    channel: str,
    thread_ts: str,
    user: str,
    team_id: str,
    event_ts: str,
    context_channel_id: str | None = None,
) -> dict[str, Any]:
    """Sent when a user opens the app's assistant pane (a new assistant thread)."""
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {
                "channel_id": context_channel_id or channel,
                "team_id": team_id,
                "enterprise_id": None,
            },
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": event_ts,
    }


def app_home_opened_event(
    *, user: str, channel: str, event_ts: str, tab: str = "messages", view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Sent each time a user opens the app's App Home; ``tab`` "messages" is the agent view.

    ``view`` (the Home tab's current view, with its ``hash``) comes only with ``tab`` "home", once
    one was published: Slack's event page says so, and a view with another tab is refused here.
    """
    if view is not None and tab != "home":
        raise ValueError("app_home_opened carries a view only for the Home tab")
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": event_ts,
    }
    if view is not None:
        event["view"] = view
    return event


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str,
    bot_user_id: str,
    api_app_id: str = DEFAULT_APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = VERIFICATION_TOKEN,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, Any]:
    """The ``event_callback`` envelope Slack POSTs to the app's Events API URL."""
    body: dict[str, Any] = {
        "token": token,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": None if is_enterprise_install else team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": is_enterprise_install,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(8)}",
    }
    if enterprise_id:
        body["enterprise_id"] = enterprise_id
    return body


def slash_command(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    team_id: str,
    response_url: str,
    channel_name: str | None = None,
    team_domain: str = "devkit",
    api_app_id: str = DEFAULT_APP_ID,
    trigger_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, str]:
    """The form fields of a slash-command POST (all strings, as Slack form-encodes them)."""
    fields = {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name or ("directmessage" if channel_id.startswith("D") else "general"),
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "true" if is_enterprise_install else "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise_id:
        fields["enterprise_id"] = enterprise_id
    return fields


def _interaction_user(user_id: str, user_name: str, team_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def block_actions(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    action: dict[str, Any],
    container: dict[str, Any],
    trigger_id: str,
    team_domain: str = "devkit",
    api_app_id: str = DEFAULT_APP_ID,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    channel: str | None = None,
    response_url: str | None = None,
    token: str = VERIFICATION_TOKEN,
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``block_actions`` payload of one press (docs.slack.dev, "block_actions payload").

    ``state``: what the message's inputs hold, ``{block_id: {action_id: {type, value}}}``; a press
    in a message (posted or ephemeral) carries it as ``state.values``."""
    fields = ("type", "action_id", "block_id", "text", "value", "style", "selected_option")
    pressed = {key: action[key] for key in fields if key in action}
    pressed["action_ts"] = f"{time.time():.6f}"
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _interaction_user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [pressed],
    }
    if channel is not None:
        payload["channel"] = {"id": channel, "name": "directmessage" if channel.startswith("D") else channel}
    if message is not None:
        payload["message"] = message
    if message is not None or state:
        payload["state"] = {"values": state or {}}
    if view is not None:
        payload["view"] = view
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def view_submission(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    view: dict[str, Any],
    trigger_id: str,
    team_domain: str = "devkit",
    api_app_id: str = DEFAULT_APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """The ``view_submission`` payload of a modal's submit, its inputs in ``view.state.values``."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _interaction_user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def message_changed_event(
    original: dict[str, Any], *, new_text: str, edited_at: str, tombstone: bool = False
) -> dict[str, Any]:
    """The ``message``/``message_changed`` event Slack sends when ``original`` (a message event) is edited.

    ``tombstone``: the thread's parent was deleted while it has replies; Slack keeps a placeholder.
    """
    previous = {k: v for k, v in original.items() if k not in ("channel", "channel_type", "event_ts")}
    message = dict(previous, text=new_text, blocks=rich_text_blocks(new_text))
    message["edited"] = {"user": original["user"], "ts": edited_at}
    if tombstone:
        message = {
            "type": "message",
            "subtype": "tombstone",
            "text": "This message was deleted.",
            "ts": original["ts"],
        }
        message.update({k: original[k] for k in ("thread_ts",) if k in original})
        message["user"] = "USLACKBOT"
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": original["channel"],
        "channel_type": original.get("channel_type", "im"),
        "ts": edited_at,
        "event_ts": edited_at,
        "message": message,
        "previous_message": previous,
    }


def message_deleted_event(original: dict[str, Any], *, deleted_at: str) -> dict[str, Any]:
    """The ``message``/``message_deleted`` event Slack sends when ``original`` (a message event) goes."""
    previous = {k: v for k, v in original.items() if k not in ("channel", "channel_type", "event_ts")}
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": original["channel"],
        "channel_type": original.get("channel_type", "im"),
        "ts": deleted_at,
        "event_ts": deleted_at,
        "deleted_ts": original["ts"],
        "previous_message": previous,
    }


def input_block_actions(
    *,
    actions: list[dict[str, Any]],
    user_id: str,
    team_id: str,
    channel_id: str,
    response_url: str,
    api_app_id: str = DEFAULT_APP_ID,
    enterprise_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """The ``block_actions`` payload Slack sends when a user uses an input in an ephemeral message."""
    return {
        "type": "block_actions",
        "token": token,
        "api_app_id": api_app_id,
        "user": {"id": user_id, "team_id": team_id},
        "team": {"id": team_id, "domain": "devkit"},
        "enterprise": {"id": enterprise_id} if enterprise_id else None,
        "is_enterprise_install": False,
        "container": {"type": "message", "is_ephemeral": True, "channel_id": channel_id},
        "channel": {"id": channel_id},
        "trigger_id": new_trigger_id(),
        "response_url": response_url,
        "actions": [{"action_ts": f"{time.time():.6f}", **action} for action in actions],
    }
