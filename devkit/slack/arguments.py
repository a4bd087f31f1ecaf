"""Reading a Web API request's arguments the way Slack does, and the checks every method shares."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from devkit.slack.records import SlackError

MARKDOWN_TEXT_LIMIT = 12_000  # per chat.*Stream call
MESSAGE_TEXT_LIMIT = 40_000  # per message, streamed or not


async def read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string and JSON or form body, and take the token out (header wins)."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update({key: _form_value(value) for key, value in form.items()})
    token = args.pop("token", None)
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = auth[len("Bearer ") :].strip()
    return args, token


def _form_value(value: Any) -> Any:
    if isinstance(value, web.FileField):
        return {"filename": value.filename, "content_type": value.content_type, "size": _file_size(value)}
    return value


def _file_size(value: web.FileField) -> int:
    value.file.seek(0, 2)
    size = value.file.tell()
    value.file.seek(0)
    return size


def json_list(value: Any) -> list[Any] | None:
    """``blocks``/``chunks`` arrive as a list (JSON body) or a JSON string (form body)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise SlackError("invalid_arguments", detail="not valid JSON") from exc
    if not isinstance(value, list):
        raise SlackError("invalid_arguments", detail="expected an array")
    return value


def require_channel(args: dict[str, Any]) -> str:
    channel = str(args.get("channel") or "")
    if not channel:
        raise SlackError("channel_not_found")
    return channel


def thread_of(args: dict[str, Any]) -> str | None:
    value = args.get("thread_ts")
    return str(value) if value else None


def stream_text(args: dict[str, Any]) -> str:
    """The markdown a chat.*Stream call adds: ``markdown_text`` plus any markdown_text chunks."""
    parts = [str(args["markdown_text"])] if args.get("markdown_text") else []
    for chunk in json_list(args.get("chunks")) or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            parts.append(str(chunk.get("text", "")))
    text = "".join(parts)
    if len(text) > MARKDOWN_TEXT_LIMIT:
        raise SlackError("msg_too_long")
    return text


def check_message_length(text: str) -> None:
    if len(text) > MESSAGE_TEXT_LIMIT:
        raise SlackError("msg_too_long")
