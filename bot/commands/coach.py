"""``/coach <subcommand>``: one slash command, whose subcommands each capability adds.

The router knows only ``help`` itself (its opening, from ``bot.commands.about``, is this
deployment's own, given at assembly). The rest are added at assembly (bot/assembly/app.py):
``new`` (``bot.commands.new_session``), memory's ``wrap``/``memory``/``forget``, installs'
``admin``, and so on, so no capability imports another.
Every answer is ephemeral; anything unknown gets the help.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CoachRequest:
    """What a subcommand gets: who asked, where, and the words after the subcommand."""

    team_id: str
    enterprise_id: str | None
    user_id: str
    channel_id: str
    argument: str
    respond: Respond
    client: Any  # the workspace's AsyncWebClient, from Bolt's context
    context: Any  # Bolt's AsyncBoltContext, for anything else a subcommand needs
    trigger_id: str = ""  # the command's own, for a subcommand that opens a modal (3 s, once)


Subcommand = Callable[[CoachRequest], Awaitable[None]]

#: The help's opening when assembly gives none (``bot.commands.about`` writes this deployment's).
HELP_INTRO = (
    "I'm coachbot, an AI coach (not therapy, medical, legal or HR advice). Talk to me in a DM, in the "
    "agent view, or by @mentioning me in a thread: each thread is one coaching session."
)
HELP_LINE = "what I do, what I'm not, and where your data lives"


class CoachCommand:
    """The ``/coach`` subcommands, in the order they were added, with a one-line help each."""

    def __init__(self, intro: str = HELP_INTRO) -> None:
        self._subcommands: dict[str, tuple[Subcommand, str]] = {}
        self._intro = intro
        self.add("help", self._show_help, HELP_LINE)

    def add(self, name: str, handler: Subcommand, help_line: str) -> None:
        if name in self._subcommands:
            raise ValueError(f"/coach {name} is already registered")
        self._subcommands[name] = (handler, help_line)

    def names(self) -> list[str]:
        return list(self._subcommands)

    def help_text(self) -> str:
        """What the bot does, its boundaries and where the data lives, then every subcommand."""
        lines = [self._intro, "", "*Commands*"]
        lines += [f"• `/coach {name}`: {help_line}" for name, (_, help_line) in self._subcommands.items()]
        return "\n".join(lines)

    async def _show_help(self, request: CoachRequest) -> None:
        await request.respond(response_type="ephemeral", text=self.help_text())

    async def answer(self, command: dict[str, Any], *, respond: Respond, client: Any, context: Any) -> None:
        """Dispatch ``/coach <name> <argument>``; anything unknown, or nothing, gets the help."""
        words = (command.get("text") or "").strip().split(maxsplit=1)
        name = words[0].lower() if words else ""
        entry = self._subcommands.get(name)
        if entry is None:
            await respond(response_type="ephemeral", text=self.help_text())
            return
        handler, _ = entry
        request = CoachRequest(
            team_id=str(command.get("team_id") or ""),
            enterprise_id=command.get("enterprise_id") or None,
            user_id=str(command.get("user_id") or ""),
            channel_id=str(command.get("channel_id") or ""),
            argument=words[1].strip() if len(words) > 1 else "",
            respond=respond,
            client=client,
            context=context,
            trigger_id=str(command.get("trigger_id") or ""),
        )
        await handler(request)
