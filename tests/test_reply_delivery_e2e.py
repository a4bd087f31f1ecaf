"""Replies delivered end to end under Slack's rules: long replies, lost streams, few calls.

Signed events into the real app over HTTP, the app against the Slack emulator (Slack's rate
tiers on) and the fake OpenAI, on SQLite and PostgreSQL. The ``slack_emulator`` fixture fails
any test that leaves a stream open.
"""

from __future__ import annotations

import re

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from bot.delivery.reply_parts import FENCE
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import Message, SlackEmulator
from tests.fixtures.app import wait_until_whole
from tests.fixtures.waiting import eventually

DM = "D0COACH"


def without_added_fences(parts: list[Message]) -> list[str]:
    """Each part's text, less the fence lines the split added to close and reopen a code block."""
    texts = [p.text for p in parts]
    for i in range(len(texts) - 1):
        if texts[i].endswith(FENCE) and re.match(r"```[^\n]*\n", texts[i + 1]):
            texts[i] = texts[i][: -len(FENCE)]
            texts[i + 1] = texts[i + 1].split("\n", 1)[1]
    return texts


def long_reply() -> str:
    """~52,000 characters of prose, lists and code, as a model would write a long answer."""
    blocks = []
    n = 0
    while sum(len(b) for b in blocks) < 52_000:
        words = " ".join(f"w{n + i:05d}" for i in range(60))
        items = "".join(f"- item {n + i:05d} says something useful\n" for i in range(5))
        code = "```python\n" + "".join(f"value_{n + i:05d} = {i}\n" for i in range(12)) + "```\n"
        blocks.append(f"{words}.\n\n{items}\n{code}\n")
        n += 60
    return "".join(blocks)[:52_000].rstrip() + "\n"


def test_a_52000_character_reply_keeps_every_word_and_each_part_within_slacks_limits(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    reply = long_reply()
    fake_openai.queue_reply(reply)
    event = slack_emulator.user_says(channel=DM, text="Tell me everything.")

    slack_emulator.send_event(coachbot.events_url, event)
    parts = wait_until_whole(slack_emulator, DM, event["ts"], len(reply))

    assert len(parts) >= 5
    assert all(len(p.text) <= 12_000 for p in parts)
    texts = without_added_fences(parts)
    assert "".join(texts) == reply
    assert [w for text in texts for w in text.split()] == reply.split(), "no word cut in two"
    for part in parts:  # every part's code blocks are closed, so each renders on its own
        assert part.text.count(FENCE) % 2 == 0
    calls = slack_emulator.calls_to("chat.startStream") + slack_emulator.calls_to("chat.appendStream")
    assert all(len(c.args.get("markdown_text") or "") <= 12_000 for c in calls)


def test_a_stream_slack_lost_continues_in_a_new_message(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, coachbot: BackgroundServer
) -> None:
    fake_openai.tokens_per_second = 40
    reply = "Here is a thought that takes a while to write out in full. " * 4
    fake_openai.queue_reply(reply)
    event = slack_emulator.user_says(channel=DM, text="Take your time")

    slack_emulator.send_event(coachbot.events_url, event)
    first = eventually(lambda: slack_emulator.replies_in(DM, event["ts"]))
    slack_emulator.end_stream(DM, first[0].ts)  # Slack loses it (it expired, say)
    parts = wait_until_whole(slack_emulator, DM, event["ts"], len(reply))

    assert len(parts) == 2
    assert "".join(p.text for p in parts) == reply
    assert not slack_emulator.calls_to("chat.update"), "a streaming message is never edited"


def test_a_streamed_reply_makes_two_calls_plus_one_append_per_second(
    slack_emulator: SlackEmulator, fake_openai: FakeOpenAI, settings: Settings
) -> None:
    fake_openai.tokens_per_second = 50
    reply = "A steady answer, token by token, for a few seconds. " * 13  # ~170 tokens, ~3.4 s
    fake_openai.queue_reply(reply)
    event = slack_emulator.user_says(channel=DM, text="Go on")

    with BackgroundServer(settings.with_overrides(stream_flush_interval_ms=1000)) as server:
        slack_emulator.send_event(server.events_url, event)
        parts = wait_until_whole(slack_emulator, DM, event["ts"], len(reply))

    assert "".join(p.text for p in parts) == reply
    start, stop = (
        slack_emulator.calls_to("chat.startStream")[0],
        slack_emulator.calls_to("chat.stopStream")[-1],
    )
    seconds = stop.at - start.at
    appends = slack_emulator.calls_to("chat.appendStream")
    assert 1 <= len(appends) <= seconds + 1
    assert len([c for c in slack_emulator.calls if c.method.startswith("chat.")]) == 2 + len(appends)
