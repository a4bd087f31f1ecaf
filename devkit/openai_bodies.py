"""Reading a Chat Completions request body, for the devkit fake and the tests that inspect it."""

from __future__ import annotations

from typing import Any


def count_user_messages(body: dict[str, Any]) -> int:
    return sum(1 for m in _messages(body) if m.get("role") == "user")


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(_messages(body)):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def image_urls(body: dict[str, Any]) -> list[str]:
    """The ``image_url`` parts of every message, in order (``data:`` URLs included whole)."""
    urls = []
    for message in _messages(body):
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "image_url":
                urls.append(str((part.get("image_url") or {}).get("url", "")))
    return urls


def content_problem(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse about the messages' content parts (text / image_url), or None."""
    for message in _messages(body):
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            return "content must be a string or an array of content parts"
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if isinstance(url, str) and url.startswith(("data:image/", "https://", "http://")):
                    continue
                return "image_url parts need an image_url.url (a data:image/… or http(s) URL)"
            return f"unsupported content part {kind!r}"
    return None


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _content_text(content: Any) -> str:
    """Message content is a string or a list of parts; only text parts count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
