"""chat.postMessage, chat.update, chat.delete, chat.postEphemeral, chat.getPermalink over the message store.

As their method pages say: ``markdown_text`` is not used together with ``text`` or ``blocks``
and holds at most 12,000 characters; a message holds at most 40,000 (``msg_too_long``). A message
that is still streaming can't be edited (``streaming_state_conflict``) or deleted
(``cant_delete_message``) until chat.stopStream ends it (see ``devkit.slack.streams``); a bot
token edits and deletes only the bot's own messages; a message has at most 50 blocks, each within
Block Kit's limits (``devkit.slack.blocks``). chat.getPermalink needs no scope, ``channel`` and
``message_ts`` of a message that exists (``message_not_found``); a thread reply's link carries
``thread_ts`` and ``cid``.
"""

from __future__ import annotations

from typing import Any

from devkit.slack.arguments import (
    MARKDOWN_TEXT_LIMIT,
    check_message_length,
    json_list,
    require_channel,
    thread_of,
)
from devkit.slack.blocks import block_problem
from devkit.slack.records import SlackError
from devkit.slack.streams import StreamsMixin

MAX_BLOCKS = 50


class ChatMixin(StreamsMixin):
    """The chat.* Web API methods over the message store."""

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = require_channel(args)
        text = self._message_text(args) or ""
        blocks = self._blocks(args)
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        check_message_length(text)
        message = self._new_bot_message(channel, thread_of(args), text, blocks=blocks)
        return {"channel": channel, "ts": message.ts, "message": self._slack_message(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        require_channel(args)
        message = self._find(args)
        if not message.is_bot:
            raise SlackError("cant_update_message")  # a bot token edits only the bot's messages
        blocks = self._blocks(args)
        text = self._message_text(args)
        if text is not None:
            check_message_length(text)
        self._expire_if_idle(message, self._clock() - self.rules.stream_idle_seconds)
        with self._lock:
            if message.streaming and self.rules.streaming_states:
                raise SlackError("streaming_state_conflict")
            if text is not None:
                message.text = str(text)
            if blocks is not None:
                message.blocks = blocks
            message.updates += 1
        return {
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": self._slack_message(message),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        require_channel(args)
        message = self._find(args)
        if not message.is_bot:
            raise SlackError("cant_delete_message")  # a bot token deletes only the bot's messages
        self._expire_if_idle(message, self._clock() - self.rules.stream_idle_seconds)
        with self._lock:
            if message.streaming and self.rules.streaming_states:
                raise SlackError("cant_delete_message")
            self._store.remove(message)
        return {"channel": message.channel, "ts": message.ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        require_channel(args)
        if not args.get("user"):
            raise SlackError("user_not_in_channel")
        text = self._message_text(args) or ""
        if not text and not self._blocks(args):
            raise SlackError("no_text")
        check_message_length(text)
        return {"message_ts": self.ts()}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = require_channel(args)
        message = self._find({"channel": channel, "ts": args.get("message_ts")})
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{message.ts.replace('.', '')}"
        if message.thread_ts and message.thread_ts != message.ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _blocks(self, args: dict[str, Any]) -> list[Any] | None:
        """``blocks``, at most 50 of them (Block Kit's limit per message)."""
        blocks = json_list(args.get("blocks"))
        if blocks is not None and self.rules.argument_limits:
            if len(blocks) > MAX_BLOCKS:
                raise SlackError("invalid_blocks", detail="at most 50 blocks in a message")
            problem = block_problem(blocks)
            if problem is not None:
                raise SlackError("invalid_blocks", detail=problem)
        return blocks

    def _message_text(self, args: dict[str, Any]) -> str | None:
        """``text`` or ``markdown_text`` (None when neither is given), checked as Slack checks them."""
        text, markdown = args.get("text"), args.get("markdown_text")
        if markdown is None or markdown == "":
            return None if text is None else str(text)
        if self.rules.argument_limits:
            if (text is not None and text != "") or json_list(args.get("blocks")):
                raise SlackError(
                    "invalid_arguments", detail="markdown_text can't be used together with text or blocks"
                )
            if len(str(markdown)) > MARKDOWN_TEXT_LIMIT:
                raise SlackError("msg_too_long")
        return str(markdown)
