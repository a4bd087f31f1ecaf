"""Memory's Block Kit: the Wrap up button, the posted summary, ``/coach memory``, the edit modal.

Built with slack_sdk's Block Kit models, which check Slack's own limits (a button's text at most
75 characters, a value at most 2,000, a section's text at most 3,000) as they serialize.
Every text that came from the model or the coach is stripped of mentions first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.conversation.mentions import neutralize_mentions
from storage.memory_records import CoachMemory, Extraction, MemoryItem, MemoryKind

WRAP_UP_ACTION = "memory_wrap_up"
COMMITMENT_DONE_ACTION = "memory_commitment_done"
EDIT_ACTION = "memory_edit"
DELETE_ACTION = "memory_delete"
EDIT_VIEW = "memory_edit_view"
EDIT_BLOCK = "memory_text"
EDIT_INPUT = "text"

SECTION_TEXT_LIMIT = 3000
INPUT_LIMIT = 3000
#: Slack's limit is 50 blocks a message; the listing stops short of it with a note.
MAX_LISTING_BLOCKS = 48

KIND_LABELS = {
    MemoryKind.GOAL: "Goal",
    MemoryKind.COMMITMENT: "Commitment",
    MemoryKind.REMEMBERED: "Remembered",
    MemoryKind.SUMMARY: "Session summary",
}


def item_value(kind: MemoryKind, item_id: int) -> str:
    return f"{kind.value}:{item_id}"


def parse_item_value(value: str) -> tuple[MemoryKind, int] | None:
    """``"goal:12"`` -> (GOAL, 12); None for anything else (a payload is not to be trusted)."""
    kind, _, raw_id = value.partition(":")
    if kind not in set(MemoryKind) or not raw_id.isdigit():
        return None
    return MemoryKind(kind), int(raw_id)


def safe_text(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """Words from the model or a coach, made safe to show: no mention pings, within ``limit``."""
    text = neutralize_mentions(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_WRAP_UP_ROW = ActionsBlock(
    block_id="memory_wrap_up",
    elements=[ButtonElement(text="Wrap up", action_id=WRAP_UP_ACTION, value="0")],
).to_dict()


def wrap_up_blocks(session_id: int) -> list[dict[str, Any]]:
    """The row under a reply: one **Wrap up** button, naming the session (checked against our tables).

    Every reply gets one, so it is the validated row with the session's id put in, not rebuilt.
    """
    button = {**_WRAP_UP_ROW["elements"][0], "value": str(session_id)}
    return [{**_WRAP_UP_ROW, "elements": [button]}]


def due_text(item: MemoryItem) -> str:
    return f" _(due {item.due_date.strftime('%a %d %b')})_" if item.due_date is not None else ""


def commitment_done_button(commitment_id: int) -> ButtonElement:
    """**Done** on an open commitment (under a summary, on the App Home); the value is checked on press."""
    return ButtonElement(
        text="Done", action_id=COMMITMENT_DONE_ACTION, value=str(commitment_id), style="primary"
    )


def summary_blocks(extraction: Extraction, commitments: Sequence[MemoryItem]) -> list[dict[str, Any]]:
    """The wrap-up posted in the thread: summary, goals, and each open commitment with **Done**."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=safe_text(f"*Session wrapped up.* {extraction.summary}")))
    ]
    if extraction.goals:
        goals = "\n".join(f"• {goal}" for goal in extraction.goals)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=safe_text(f"*Goals*\n{goals}"))))
    if commitments:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*Your commitments*")))
    for item in commitments:
        text = MarkdownTextObject(text=safe_text(f"• {item.text}{due_text(item)}"))
        if item.status == "open":
            done = commitment_done_button(item.id)
            blocks.append(SectionBlock(block_id=f"commitment_{item.id}", text=text, accessory=done))
        else:
            blocks.append(SectionBlock(block_id=f"commitment_{item.id}", text=text))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="`/coach memory` shows what I remember.")]))
    return [block.to_dict() for block in blocks]


def summary_fallback(extraction: Extraction) -> str:
    """The notification text of the summary message (screen readers and previews)."""
    return safe_text(f"Session wrapped up. {extraction.summary}")


def mark_done(blocks: Sequence[dict[str, Any]], commitment_id: int) -> list[dict[str, Any]]:
    """The summary's blocks with one commitment's Done button replaced by a check mark."""
    updated = []
    for block in blocks:
        if block.get("block_id") == f"commitment_{commitment_id}":
            block = {key: value for key, value in block.items() if key != "accessory"}
            text = dict(block.get("text") or {})
            text["text"] = f"{text.get('text', '')}  :white_check_mark: done"
            block["text"] = text
        updated.append(block)
    return updated


def memory_blocks(memory: CoachMemory) -> list[dict[str, Any]]:
    """``/coach memory``: each item with **Edit** and **Delete**, and how to turn memory off."""
    state = "on" if memory.enabled else "off"
    blocks: list[Block] = [
        HeaderBlock(text="What I remember"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Memory is *{state}*. `/coach memory off` stops it, `/coach memory on` "
                    "restarts it, `/coach forget` clears it all."
                )
            ]
        ),
    ]
    if memory.empty:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing yet: wrap up a session to start.")))
    shown = 0
    items = memory.items()
    for item in items:
        if len(blocks) + 3 > MAX_LISTING_BLOCKS:
            break
        blocks += [DividerBlock(), _item_section(item), memory_actions(item)]
        shown += 1
    if shown < len(items):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"…and {len(items) - shown} more.")]))
    return [block.to_dict() for block in blocks]


def _item_section(item: MemoryItem) -> SectionBlock:
    label = KIND_LABELS[item.kind]
    if item.kind is MemoryKind.SUMMARY:
        label = f"{label}, {item.created_at.date().isoformat()}"
    return SectionBlock(text=MarkdownTextObject(text=safe_text(f"*{label}*{due_text(item)}\n{item.text}")))


def memory_actions(item: MemoryItem) -> ActionsBlock:
    value = item_value(item.kind, item.id)
    return ActionsBlock(
        block_id=f"actions_{value.replace(':', '_')}",
        elements=[
            ButtonElement(text="Edit", action_id=EDIT_ACTION, value=value),
            ButtonElement(text="Delete", action_id=DELETE_ACTION, value=value, style="danger"),
        ],
    )


def edit_view(item: MemoryItem) -> dict[str, Any]:
    """The modal that edits one item; its private_metadata names the item (checked again on submit)."""
    view = View(
        type="modal",
        callback_id=EDIT_VIEW,
        private_metadata=item_value(item.kind, item.id),
        title=PlainTextObject(text=f"Edit {KIND_LABELS[item.kind].lower()}"[:24]),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id=EDIT_BLOCK,
                label=PlainTextObject(text=KIND_LABELS[item.kind]),
                element=PlainTextInputElement(
                    action_id=EDIT_INPUT,
                    multiline=True,
                    max_length=INPUT_LIMIT,
                    initial_value=item.text[:INPUT_LIMIT],
                ),
            )
        ],
    )
    return view.to_dict()
