"""Block Kit's limits, as Slack's reference pages state them; a message breaking one is ``invalid_blocks``.

A ``block_id`` is at most 255 characters and unique in the message; a section's text at most
3,000 and its fields at most 10 of 2,000; a header's text at most 150; an actions block at most
25 elements, a context block at most 10; a button's text at most 75, its ``action_id`` at most
255 (unique within its block) and its ``value`` at most 2,000.

Two blocks exist in messages only (``surface="message"``; not in modals or App Home): ``markdown``
(``text`` required, at most 12,000 characters, and all markdown blocks of a payload together at
most 12,000) and ``context_actions`` (1 to 5 elements, each ``feedback_buttons`` or
``icon_button``). A ``feedback_buttons`` element is used inside a context actions block only; it
needs ``positive_button`` and ``negative_button``, each with a ``plain_text`` text of at most 75
characters, a ``value`` (required, at most 2,000) and an optional ``accessibility_label`` of at
most 75.
"""

from __future__ import annotations

from typing import Any

BLOCK_ID_LIMIT = 255
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT, FIELD_TEXT_LIMIT = 10, 2000
HEADER_TEXT_LIMIT = 150
ACTIONS_ELEMENTS_LIMIT = 25
CONTEXT_ELEMENTS_LIMIT = 10
CONTEXT_ACTIONS_ELEMENTS_LIMIT = 5
BUTTON_TEXT_LIMIT, ACTION_ID_LIMIT, BUTTON_VALUE_LIMIT = 75, 255, 2000
ACCESSIBILITY_LABEL_LIMIT = 75
MARKDOWN_BLOCK_LIMIT = 12_000  # per block, and for all markdown blocks of one payload together
MESSAGE_ONLY_BLOCKS = frozenset({"markdown", "context_actions"})
CONTEXT_ACTIONS_ELEMENTS = frozenset({"feedback_buttons", "icon_button"})


def block_problem(blocks: list[Any], *, surface: str = "message") -> str | None:
    """The first limit ``blocks`` break on ``surface`` (message, modal or home), or None."""
    seen: set[str] = set()
    markdown = 0
    for n, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"blocks[{n}] must be an object with a type"
        if block["type"] in MESSAGE_ONLY_BLOCKS and surface != "message":
            return f"blocks[{n}]: a {block['type']} block is available in messages only"
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > BLOCK_ID_LIMIT:
                return f"blocks[{n}].block_id must be at most {BLOCK_ID_LIMIT} characters"
            if block_id in seen:
                return f"blocks[{n}].block_id {block_id!r} is not unique"
            seen.add(str(block_id))
        if block["type"] == "markdown":
            markdown += len(str(block.get("text") or ""))
            if markdown > MARKDOWN_BLOCK_LIMIT:
                return f"markdown blocks: at most {MARKDOWN_BLOCK_LIMIT} characters together"
        problem = _problem_of(block, n)
        if problem:
            return problem
    return None


def _text(obj: Any) -> str:
    return str(obj.get("text") or "") if isinstance(obj, dict) else ""


def _problem_of(block: dict[str, Any], n: int) -> str | None:
    kind = block["type"]
    if kind == "section":
        if len(_text(block.get("text"))) > SECTION_TEXT_LIMIT:
            return f"blocks[{n}].text must be at most {SECTION_TEXT_LIMIT} characters"
        fields = block.get("fields") or []
        if len(fields) > FIELD_LIMIT or any(len(_text(f)) > FIELD_TEXT_LIMIT for f in fields):
            return f"blocks[{n}].fields: at most {FIELD_LIMIT}, each at most {FIELD_TEXT_LIMIT} characters"
        if not block.get("text") and not fields:
            return f"blocks[{n}] needs text or fields"
        accessory = block.get("accessory")
        return _element_problem(accessory, f"blocks[{n}].accessory") if accessory else None
    if kind == "header" and len(_text(block.get("text"))) > HEADER_TEXT_LIMIT:
        return f"blocks[{n}].text must be at most {HEADER_TEXT_LIMIT} characters"
    if kind == "markdown" and not (isinstance(block.get("text"), str) and block["text"]):
        return f"blocks[{n}].text is required (standard markdown)"
    if kind in ("actions", "context", "context_actions"):
        elements = block.get("elements") or []
        limit = {"actions": ACTIONS_ELEMENTS_LIMIT, "context": CONTEXT_ELEMENTS_LIMIT}.get(
            kind, CONTEXT_ACTIONS_ELEMENTS_LIMIT
        )
        if not elements or len(elements) > limit:
            return f"blocks[{n}].elements: 1 to {limit}"
        action_ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(action_ids) != len(set(action_ids)):
            return f"blocks[{n}]: action_id must be unique within the block"
        for m, element in enumerate(elements):
            where = f"blocks[{n}].elements[{m}]"
            if kind == "context_actions" and (
                not isinstance(element, dict) or element.get("type") not in CONTEXT_ACTIONS_ELEMENTS
            ):
                return f"{where}: a context actions block holds feedback_buttons and icon_button only"
            if kind != "context_actions" and _is(element, "feedback_buttons"):
                return f"{where}: feedback_buttons must be used inside a context_actions block"
            problem = _element_problem(element, where)
            if problem:
                return problem
    return None


def _is(element: Any, kind: str) -> bool:
    return isinstance(element, dict) and element.get("type") == kind


def _element_problem(element: Any, where: str) -> str | None:
    if not isinstance(element, dict):
        return None
    if len(str(element.get("action_id") or "")) > ACTION_ID_LIMIT:
        return f"{where}.action_id must be at most {ACTION_ID_LIMIT} characters"
    if element.get("type") == "feedback_buttons":
        for key in ("positive_button", "negative_button"):
            problem = _feedback_button_problem(element.get(key), f"{where}.{key}")
            if problem:
                return problem
        return None
    if element.get("type") != "button":
        return None
    if len(_text(element.get("text"))) > BUTTON_TEXT_LIMIT:
        return f"{where}.text must be at most {BUTTON_TEXT_LIMIT} characters"
    if len(str(element.get("value") or "")) > BUTTON_VALUE_LIMIT:
        return f"{where}.value must be at most {BUTTON_VALUE_LIMIT} characters"
    return None


def _feedback_button_problem(button: Any, where: str) -> str | None:
    """One of a feedback_buttons element's two buttons: text, value, accessibility_label."""
    if not isinstance(button, dict):
        return f"{where} is required"
    text = button.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text" or not text.get("text"):
        return f"{where}.text is required, a plain_text object"
    if len(str(text["text"])) > BUTTON_TEXT_LIMIT:
        return f"{where}.text must be at most {BUTTON_TEXT_LIMIT} characters"
    value = button.get("value")
    if not isinstance(value, str) or not value:
        return f"{where}.value is required"
    if len(value) > BUTTON_VALUE_LIMIT:
        return f"{where}.value must be at most {BUTTON_VALUE_LIMIT} characters"
    if len(str(button.get("accessibility_label") or "")) > ACCESSIBILITY_LABEL_LIMIT:
        return f"{where}.accessibility_label must be at most {ACCESSIBILITY_LABEL_LIMIT} characters"
    return None
