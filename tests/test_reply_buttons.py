"""Every finished reply carries its final blocks (the feedback buttons, Wrap up), however it is
written: streamed (chat.stopStream), posted and edited (the last chat.update), posted whole
(chat.postMessage), and a multi-part reply on its last part only. The emulator holds each call to
Block Kit's pages (a ``markdown`` block, a ``context_actions`` block of ``feedback_buttons``).
"""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.slack_budget import START_STREAM, UPDATE, SlackRateBudget
from bot.delivery.streaming import SlackReplyWriter, StreamingSupport
from bot.feedback.blocks import FEEDBACK_ACTION, feedback_blocks
from bot.memory.blocks import wrap_up_blocks
from devkit.slack_emulator import Message, SlackEmulator
from tests import test_streaming_writer as writer_tests
from tests.test_streaming_writer import conversation_in, methods, replies, spent_budget, writer_for

# The writer tests' fixtures: the app's own Slack client against the emulator, and its budget.
budget, client = writer_tests.budget, writer_tests.client

FINAL = [*wrap_up_blocks(7), *feedback_blocks()]


def with_buttons(writer: SlackReplyWriter) -> SlackReplyWriter:
    writer.final_blocks = FINAL
    return writer


def block_types(message: Message) -> list[str]:
    return [b["type"] for b in message.blocks or []]


def feedback_element(message: Message) -> dict:
    row = next(b for b in message.blocks or [] if b["type"] == "context_actions")
    return row["elements"][0]


async def test_a_streamed_reply_ends_with_the_buttons_on_chat_stop_stream(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = with_buttons(writer_for(client, budget))
    writer.write("A streamed reply.")

    await writer.close()

    assert methods(slack_emulator) == ["chat.startStream", "chat.stopStream"]
    (reply,) = replies(slack_emulator)
    assert reply.text == "A streamed reply."
    assert block_types(reply) == ["actions", "context_actions"]
    element = feedback_element(reply)
    assert element["type"] == "feedback_buttons" and element["action_id"] == FEEDBACK_ACTION
    assert element["positive_button"]["value"] == "positive"
    assert element["negative_button"]["accessibility_label"] == "This reply did not help"


async def test_a_reply_posted_then_edited_gets_the_buttons_on_its_last_chat_update(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = with_buttons(
        SlackReplyWriter(
            conversation_in(client, budget),
            streaming=StreamingSupport(enabled=False),
            flush_interval=0.05,
            part_chars=11_000,
        )
    )
    writer.write("Posted first, ")
    await asyncio.sleep(0.1)
    writer.write("then edited.")

    await writer.close()

    assert methods(slack_emulator)[0] == "chat.postMessage"
    last = slack_emulator.calls_to("chat.update")[-1]
    assert "markdown_text" not in last.args  # markdown_text can't go with blocks: a markdown block
    (reply,) = replies(slack_emulator)
    assert reply.text == "Posted first, then edited."
    assert block_types(reply) == ["markdown", "actions", "context_actions"]
    assert reply.blocks[0]["text"] == "Posted first, then edited."


async def test_a_reply_posted_whole_gets_the_buttons_and_wrap_up_too(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    writer = with_buttons(writer_for(client, spent_budget(client, START_STREAM, UPDATE)))
    writer.write("A reply posted once complete.")

    await writer.close()

    assert methods(slack_emulator) == ["chat.postMessage"]
    (reply,) = replies(slack_emulator)
    assert reply.text == "A reply posted once complete."
    assert block_types(reply) == ["markdown", "actions", "context_actions"]


async def test_a_reply_in_several_messages_carries_the_buttons_on_its_last_part_only(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = with_buttons(writer_for(client, budget, part_chars=60))
    text = "A paragraph of a long reply that goes on.\n\n" * 4
    writer.write(text)

    await writer.close()

    parts = replies(slack_emulator)
    assert len(parts) >= 2 and "".join(p.text for p in parts) == text
    assert [bool(p.blocks) for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_a_reply_cut_short_carries_no_buttons(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = with_buttons(writer_for(client, budget))
    writer.write("Half a reply")
    await asyncio.sleep(0.1)

    await writer.cut()

    (reply,) = replies(slack_emulator)
    assert not reply.blocks


def test_the_emulator_refuses_feedback_buttons_as_slacks_pages_do(slack_emulator: SlackEmulator) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    web = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.base_url)
    row = feedback_blocks()[0]
    element = row["elements"][0]
    bad = [
        [{**row, "elements": [element] * 6}],  # at most 5 elements
        [{"type": "actions", "elements": [element]}],  # only inside context_actions
        [{**row, "elements": [{**element, "positive_button": {"text": element["positive_button"]["text"]}}]}],
        [
            {
                **row,
                "elements": [
                    {
                        **element,
                        "negative_button": {
                            **element["negative_button"],
                            "text": {"type": "mrkdwn", "text": "no"},
                        },
                    }
                ],
            }
        ],
        [{"type": "markdown", "text": "x" * 12_001}],
    ]
    for n, blocks in enumerate(bad):
        try:
            web.chat_postMessage(channel=f"D0W{n}", text="t", blocks=blocks)  # one post per channel
        except SlackApiError as error:
            assert error.response["error"] == "invalid_blocks"
        else:
            raise AssertionError(f"accepted {blocks!r:.120}")
    try:
        web.views_publish(user_id="U0COACH", view={"type": "home", "blocks": feedback_blocks()})
    except SlackApiError as error:
        assert error.response["error"] == "invalid_arguments"  # views: context_actions is for messages only
    else:
        raise AssertionError("a home view took a context_actions block")


async def test_a_reply_whose_last_words_end_its_message_on_a_break_still_carries_the_buttons(
    slack_emulator: SlackEmulator, client: AsyncWebClient, budget: SlackRateBudget
) -> None:
    writer = with_buttons(writer_for(client, budget, part_chars=60))
    writer.write("a" * 40)
    await asyncio.sleep(0.1)  # streamed: the message holds 40 characters
    writer.write("b" * 29 + "\n")  # too long for the message; its only break is its very end

    await writer.close()

    (reply,) = replies(slack_emulator)
    assert reply.text == "a" * 40 + "b" * 29 + "\n"
    assert block_types(reply) == ["actions", "context_actions"]
