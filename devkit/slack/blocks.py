"""Block Kit's limits, as Slack's reference pages state them; a message breaking one is ``invalid_blocks``.

A ``block_id`` is at most 255 characters and unique in the message; a section's text at most
3,000 and its fields at most 10 of 2,000; a header's text at most 150; an actions block at most
25 elements, a context block at most 10; a button's text at most 75, its ``action_id`` at most
255 (unique within its block) and its ``value`` at most 2,000.
"""

from __future__ import annotations

from typing import Any

BLOCK_ID_LIMIT = 255
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT, FIELD_TEXT_LIMIT = 10, 2000
HEADER_TEXT_LIMIT = 150
ACTIONS_ELEMENTS_LIMIT = 25
CONTEXT_ELEMENTS_LIMIT = 10
BUTTON_TEXT_LIMIT, ACTION_ID_LIMIT, BUTTON_VALUE_LIMIT = 75, 255, 2000


def block_problem(blocks: list[Any]) -> str | None:
    """The first limit ``blocks`` break, or None."""
    seen: set[str] = set()
    for n, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"blocks[{n}] must be an object with a type"
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > BLOCK_ID_LIMIT:
                return f"blocks[{n}].block_id must be at most {BLOCK_ID_LIMIT} characters"
            if block_id in seen:
                return f"blocks[{n}].block_id {block_id!r} is not unique"
            seen.add(str(block_id))
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
    if kind in ("actions", "context"):
        elements = block.get("elements") or []
        limit = ACTIONS_ELEMENTS_LIMIT if kind == "actions" else CONTEXT_ELEMENTS_LIMIT
        if not elements or len(elements) > limit:
            return f"blocks[{n}].elements: 1 to {limit}"
        action_ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(action_ids) != len(set(action_ids)):
            return f"blocks[{n}]: action_id must be unique within the block"
        for m, element in enumerate(elements):
            problem = _element_problem(element, f"blocks[{n}].elements[{m}]")
            if problem:
                return problem
    return None


def _element_problem(element: Any, where: str) -> str | None:
    if not isinstance(element, dict) or element.get("type") != "button":
        return None
    if len(_text(element.get("text"))) > BUTTON_TEXT_LIMIT:
        return f"{where}.text must be at most {BUTTON_TEXT_LIMIT} characters"
    if len(str(element.get("action_id") or "")) > ACTION_ID_LIMIT:
        return f"{where}.action_id must be at most {ACTION_ID_LIMIT} characters"
    if len(str(element.get("value") or "")) > BUTTON_VALUE_LIMIT:
        return f"{where}.value must be at most {BUTTON_VALUE_LIMIT} characters"
    return None
