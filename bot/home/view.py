"""The App Home view: sessions, goals and commitments, files, settings, the coach's data, admin.

Slack's limit is 100 blocks a view; every list is capped (the rest is counted: "and 480 more"),
so a coach with 500 sessions gets the same ~80 blocks as one with 20. The memory buttons are
memory's own (``bot.memory.blocks``): their listeners handle a press from here as from a message.
Built with slack_sdk's Block Kit models, which check Slack's text limits as they serialize.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.attachments.attachment_types import human_size
from bot.attachments.file_listing import mrkdwn_escape
from bot.attachments.listing import LINK_EXPIRY_SECONDS
from bot.home.links import thread_link
from bot.home.settings_blocks import CoachSettings, settings_blocks
from bot.memory.blocks import commitment_done_button, due_text, memory_actions, safe_text
from storage.home import HomeLimits, HomeRecords, HomeSession
from storage.memory_records import MemoryItem

MAX_VIEW_BLOCKS = 100
HOME_CALLBACK_ID = "coach_home"
EXPORT_ACTION = "coach_data_export"
DELETE_DATA_ACTION = "coach_data_delete"
ACTIVE_SHOWN, INACTIVE_SHOWN, GOALS_SHOWN, COMMITMENTS_SHOWN, FILES_SHOWN = 10, 5, 5, 10, 8
#: What the Home reads: one more goal or commitment than it shows, to know there are more.
LIMITS = HomeLimits(
    active=ACTIVE_SHOWN,
    inactive=INACTIVE_SHOWN,
    memory=max(GOALS_SHOWN, COMMITMENTS_SHOWN) + 1,
    files=FILES_SHOWN,
)
UNTITLED = "A coaching session"
UNAVAILABLE_TEXT = "I couldn't load your Home just now. Please open it again in a minute."


@dataclass(frozen=True)
class AdminSettings:
    """The workspace settings an admin sees read-only: (label, value) rows, and where to change them."""

    rows: tuple[tuple[str, str], ...]
    hint: str


@dataclass(frozen=True)
class HomeSnapshot:
    """Everything one Home shows, read for its owner."""

    team_id: str
    user_id: str
    records: HomeRecords
    settings: CoachSettings
    links: Mapping[int, str]  # attachment id -> a fresh 5-minute link
    team_url: str | None
    admin: AdminSettings | None = None


def owner_metadata(team_id: str, user_id: str) -> str:
    """The view's ``private_metadata``: whose Home it is (a press must come from them)."""
    return f"{team_id}:{user_id}"


def _when(at: datetime) -> str:
    """Slack's date token: each reader sees it in their own timezone; the fallback is UTC."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def _more(count: int, what: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=f"…and {count} more {what}.")])


def _session(snapshot: HomeSnapshot, session: HomeSession) -> SectionBlock:
    link = thread_link(snapshot.team_url, snapshot.team_id, session.channel_id, session.thread_ts)
    title = mrkdwn_escape(safe_text(session.title or UNTITLED, 150))
    return SectionBlock(
        block_id=f"home_session_{session.id}",
        text=MarkdownTextObject(text=f"*<{link}|{title}>*\nLast activity {_when(session.updated_at)}"),
    )


def _sessions(snapshot: HomeSnapshot) -> list[Block]:
    records = snapshot.records
    blocks: list[Block] = [HeaderBlock(text="Your sessions")]
    if not records.active and not records.inactive:
        text = "No sessions yet. Send me a message in the Messages tab to start one."
        return [*blocks, SectionBlock(text=MarkdownTextObject(text=text))]
    if records.active:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Active* ({records.active_count})")))
        blocks += [_session(snapshot, session) for session in records.active]
        if records.active_count > len(records.active):
            blocks.append(_more(records.active_count - len(records.active), "active sessions"))
    if records.inactive:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Recent* ({records.inactive_count})")))
        blocks += [_session(snapshot, session) for session in records.inactive]
        if records.inactive_count > len(records.inactive):
            blocks.append(_more(records.inactive_count - len(records.inactive), "earlier sessions"))
    return blocks


def _goal(item: MemoryItem) -> list[Block]:
    text = MarkdownTextObject(text=safe_text(f"*Goal*\n{item.text}"))
    return [SectionBlock(block_id=f"home_goal_{item.id}", text=text), memory_actions(item)]


def _commitment(item: MemoryItem) -> list[Block]:
    text = MarkdownTextObject(text=safe_text(f"*Commitment*{due_text(item)}\n{item.text}"))
    section = SectionBlock(
        block_id=f"home_commitment_{item.id}", text=text, accessory=commitment_done_button(item.id)
    )
    return [section, memory_actions(item)]


def _memory(snapshot: HomeSnapshot) -> list[Block]:
    memory = snapshot.records.memory
    blocks: list[Block] = [HeaderBlock(text="Goals and commitments")]
    if snapshot.settings.memory_on is None:
        off = "This coachbot runs without memory, so it keeps no goals or commitments."
        return [*blocks, SectionBlock(text=MarkdownTextObject(text=off))]
    if not memory.enabled:
        off = "Memory is off, so I keep no goals or commitments. Turn it on under Settings."
        return [*blocks, SectionBlock(text=MarkdownTextObject(text=off))]
    if not memory.goals and not memory.commitments:
        empty = "Nothing yet: wrap up a session and its goals and commitments show here."
        return [*blocks, SectionBlock(text=MarkdownTextObject(text=empty))]
    for item in memory.goals[:GOALS_SHOWN]:
        blocks += _goal(item)
    for item in memory.commitments[:COMMITMENTS_SHOWN]:
        blocks += _commitment(item)
    if len(memory.goals) > GOALS_SHOWN or len(memory.commitments) > COMMITMENTS_SHOWN:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="…and more: `/coach memory` lists them.")])
        )
    return blocks


def _files(snapshot: HomeSnapshot) -> list[Block]:
    files = snapshot.records.files
    blocks: list[Block] = [HeaderBlock(text="Your files")]
    if not files:
        text = "Files you share in a session show here, with a fresh link each time you open Home."
        return [*blocks, SectionBlock(text=MarkdownTextObject(text=text))]
    for row in files[:FILES_SHOWN]:
        name = mrkdwn_escape(row.name)
        link = snapshot.links.get(row.id)
        shown = f"<{link}|{name}>" if link else f"{name} (no link just now)"
        text = f"{shown} · {human_size(row.size)} · shared {_when(row.created_at)}"
        blocks.append(SectionBlock(block_id=f"home_file_{row.id}", text=MarkdownTextObject(text=text)))
    minutes = LINK_EXPIRY_SECONDS // 60
    note = f"Links work for {minutes} minutes; open Home again for fresh ones."
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return blocks


def data_blocks() -> list[Block]:
    """Export my data and Delete my data: their listeners belong to the export and erase capabilities."""
    return [
        HeaderBlock(text="Your data"),
        ActionsBlock(
            block_id="home_data",
            elements=[
                ButtonElement(text="Export my data", action_id=EXPORT_ACTION, value=""),
                ButtonElement(text="Delete my data", action_id=DELETE_DATA_ACTION, value="", style="danger"),
            ],
        ),
    ]


def _admin(admin: AdminSettings) -> list[Block]:
    fields = [MarkdownTextObject(text=f"*{label}*\n{value}") for label, value in admin.rows]
    return [
        HeaderBlock(text="Workspace settings (admins)"),
        SectionBlock(block_id="home_admin", fields=fields[:10]),
        ContextBlock(elements=[MarkdownTextObject(text=admin.hint)]),
    ]


def home_blocks(snapshot: HomeSnapshot) -> list[Block]:
    blocks: list[Block] = [*_sessions(snapshot), DividerBlock(), *_memory(snapshot), DividerBlock()]
    blocks += [*_files(snapshot), DividerBlock(), *settings_blocks(snapshot.settings), DividerBlock()]
    blocks += data_blocks()
    if snapshot.admin is not None:
        blocks += [DividerBlock(), *_admin(snapshot.admin)]
    return blocks


def home_view(snapshot: HomeSnapshot) -> dict[str, object]:
    """The ``home`` view views.publish sends; its private_metadata names its owner."""
    blocks: Sequence[Block] = home_blocks(snapshot)
    if len(blocks) > MAX_VIEW_BLOCKS:  # the caps above keep it within; a change that breaks them fails here
        raise ValueError(f"a Home of {len(blocks)} blocks is over Slack's {MAX_VIEW_BLOCKS}")
    view = View(
        type="home",
        callback_id=HOME_CALLBACK_ID,
        private_metadata=owner_metadata(snapshot.team_id, snapshot.user_id),
        blocks=list(blocks),
    )
    return view.to_dict()


def unavailable_view() -> dict[str, object]:
    """What the Home says when it could not be read: a short note, never a stale or empty list."""
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=UNAVAILABLE_TEXT))]
    return View(type="home", callback_id=HOME_CALLBACK_ID, blocks=blocks).to_dict()
