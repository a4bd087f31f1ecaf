"""A coach's own settings as Block Kit: check-ins, memory, working hours; the Home and ``/coach settings``.

One builder for both surfaces, so the App Home and the ephemeral answer never disagree. Each
toggle is a ``home_*`` button whose value is the state it switches to; the press is applied to
the presser's own settings only (``bot.home.toggles``).
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.checkins.working_hours import DAY_ENDS, DAY_STARTS

CHECKINS_ACTION = "home_checkins"
MEMORY_ACTION = "home_memory"
TOGGLE_ACTIONS = (CHECKINS_ACTION, MEMORY_ACTION)


@dataclass(frozen=True)
class CoachSettings:
    """What the coach can switch. ``memory_on`` None: the deployment runs without memory."""

    checkins_on: bool
    memory_on: bool | None
    zone_name: str | None  # their Slack timezone, or None when Slack didn't say


def _toggle(text: str, on: bool, action_id: str) -> SectionBlock:
    state = "on" if on else "off"
    button = ButtonElement(
        text="Turn off" if on else "Turn on",
        action_id=action_id,
        value="off" if on else "on",
        style=None if on else "primary",
    )
    return SectionBlock(
        block_id=action_id, text=MarkdownTextObject(text=f"{text}: *{state}*"), accessory=button
    )


def working_hours_text(zone_name: str | None) -> str:
    hours = f"{DAY_STARTS:%H:%M}–{DAY_ENDS:%H:%M}, Monday to Friday"
    where = f"your Slack timezone ({zone_name})" if zone_name else "your Slack timezone"
    return f"*Working hours:* {hours}, in {where}. Check-ins only arrive then."


def settings_blocks(settings: CoachSettings) -> list[Block]:
    """The settings section: a header, a toggle per setting, and the working hours."""
    blocks: list[Block] = [
        HeaderBlock(text="Settings"),
        _toggle("Check-ins on your commitments", settings.checkins_on, CHECKINS_ACTION),
    ]
    if settings.memory_on is None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Memory: *off* for this whole deployment")))
    else:
        blocks.append(_toggle("Memory across sessions", settings.memory_on, MEMORY_ACTION))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=working_hours_text(settings.zone_name))]))
    return blocks
