"""/coach: one slash command whose subcommands the capabilities add; anything unknown gets the help."""

from __future__ import annotations

from typing import Any

import pytest

from bot.commands.coach import CoachCommand, CoachRequest


class Responses:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


def command(text: str) -> dict[str, Any]:
    return {"text": text, "team_id": "T1", "user_id": "U1", "channel_id": "D1"}


async def test_a_subcommand_gets_who_asked_and_its_argument() -> None:
    router = CoachCommand()
    seen: list[CoachRequest] = []

    async def remember(request: CoachRequest) -> None:
        seen.append(request)

    router.add("memory", remember, "what I remember")
    await router.answer(command("Memory  off "), respond=Responses(), client=None, context={})
    assert [(r.team_id, r.user_id, r.argument) for r in seen] == [("T1", "U1", "off")]


@pytest.mark.parametrize("text", ["", "help", "dance"])
async def test_anything_unknown_gets_the_help_ephemerally(text: str) -> None:
    router = CoachCommand()

    async def nothing(request: CoachRequest) -> None:
        raise AssertionError("not called")

    router.add("wrap", nothing, "end this session with a summary")
    responses = Responses()
    await router.answer(command(text), respond=responses, client=None, context={})
    assert responses.sent[0]["response_type"] == "ephemeral"
    assert "`/coach wrap`: end this session with a summary" in responses.sent[0]["text"]


def test_a_subcommand_is_registered_once() -> None:
    router = CoachCommand()

    async def nothing(request: CoachRequest) -> None:
        return None

    router.add("wrap", nothing, "x")
    with pytest.raises(ValueError):
        router.add("wrap", nothing, "y")
