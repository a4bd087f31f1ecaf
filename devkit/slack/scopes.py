"""Which bot-token scope each Web API method needs (each method's page, "Scopes"), checked as Slack does.

A call the token's scopes don't allow is answered ``{"ok": false, "error": "missing_scope",
"needed": ..., "provided": ...}`` (HTTP 200), ``needed`` naming the scope(s) that would do and
``provided`` the token's scopes, comma-separated. Every answer to a bot token carries the
``x-oauth-scopes`` header listing its scopes, as Slack's do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devkit.slack.records import SlackError

# method -> any one of these scopes suffices. Absent = no scope needed (auth.test).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.startStream": ("chat:write",),
    "chat.appendStream": ("chat:write",),
    "chat.stopStream": ("chat:write",),
    # Since 2026-03 setStatus takes chat:write too (it works in channels); assistant:write still does.
    "assistant.threads.setStatus": ("chat:write", "assistant:write"),
    "assistant.threads.setTitle": ("assistant:write",),
    "assistant.threads.setSuggestedPrompts": ("assistant:write",),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "users.info": ("users:read",),
    # conversations.open's page: the scope of the conversation's type; a 1:1 DM is im:write
    # (several users, a group DM, would be mpim:write).
    "conversations.open": ("im:write",),
    "files.info": ("files:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "views.open": (),  # "No scopes required": a trigger_id from the user's press is the permission
    "views.publish": (),  # "No scopes required" (its method page); a Home tab must be enabled
    "views.update": (),  # "No scopes required": it changes a view the app opened (view_id or external_id)
    "chat.getPermalink": (),  # "No scope required", bot or user token
}
# conversations.history/replies need the history scope of the conversation's type.
_HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}
_HISTORY_METHODS = ("conversations.history", "conversations.replies")
ALL_HISTORY_SCOPES = ("channels:history", "groups:history", "im:history", "mpim:history")


def needed_scopes(method: str, args: dict[str, Any]) -> tuple[str, ...]:
    """The scopes of which one allows this call (empty when none is needed)."""
    if method in _HISTORY_METHODS:
        channel = str(args.get("channel") or "")
        scope = _HISTORY_SCOPES.get(channel[:1])
        return (scope,) if scope else ALL_HISTORY_SCOPES
    return METHOD_SCOPES.get(method, ())


def check_scopes(method: str, args: dict[str, Any], granted: Iterable[str]) -> None:
    """Raise ``missing_scope`` when none of the scopes ``method`` needs is granted."""
    needed = needed_scopes(method, args)
    scopes = list(granted)
    if needed and not set(needed) & set(scopes):
        raise SlackError("missing_scope", needed=",".join(needed), provided=",".join(scopes))
