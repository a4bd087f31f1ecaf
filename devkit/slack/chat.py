"""chat.*: posting, editing and deleting messages, and the chat.*Stream streaming methods."""

from __future__ import annotations

from typing import Any

from devkit.slack.arguments import (
    MESSAGE_TEXT_LIMIT,
    check_message_length,
    json_list,
    require_channel,
    stream_text,
    thread_of,
)
from devkit.slack.core import EmulatorCore
from devkit.slack.records import Message, SlackError


class ChatMixin(EmulatorCore):
    """The chat.* Web API methods over the message store."""

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = require_channel(args)
        text = str(args.get("text") or args.get("markdown_text") or "")
        blocks = json_list(args.get("blocks"))
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        check_message_length(text)
        message = self._new_bot_message(channel, thread_of(args), text, blocks=blocks)
        return {"channel": channel, "ts": message.ts, "message": self._slack_message(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._find(args)
        blocks = json_list(args.get("blocks"))
        text = args.get("text", args.get("markdown_text"))
        if text is not None:
            check_message_length(str(text))
        with self._lock:
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
        message = self._find(args)
        with self._lock:
            self._store.remove(message)
        return {"channel": message.channel, "ts": message.ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        require_channel(args)
        if not args.get("user"):
            raise SlackError("user_not_in_channel")
        text = str(args.get("text") or "")
        if not text and not json_list(args.get("blocks")):
            raise SlackError("no_text")
        check_message_length(text)
        return {"message_ts": self.ts()}

    def _chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = require_channel(args)
        thread_ts = thread_of(args)
        if thread_ts is None:
            raise SlackError("invalid_arguments", detail="thread_ts is required")
        text = stream_text(args)
        message = self._new_bot_message(channel, thread_ts, text, streaming=True)
        return {"channel": channel, "ts": message.ts}

    def _chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        self._append(message, stream_text(args))
        return {"channel": message.channel, "ts": message.ts}

    def _chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        blocks = json_list(args.get("blocks"))
        self._append(message, stream_text(args), finish=True, blocks=blocks)
        return {"channel": message.channel, "ts": message.ts, "message": self._slack_message(message)}

    def _streaming_message(self, args: dict[str, Any]) -> Message:
        message = self._find(args)
        if not message.streaming:
            raise SlackError("message_not_in_streaming_state")
        return message

    def _append(
        self, message: Message, text: str, *, finish: bool = False, blocks: list[Any] | None = None
    ) -> None:
        with self._lock:
            if not message.streaming:  # lost a race with another stopStream
                raise SlackError("message_not_in_streaming_state")
            if len(message.text) + len(text) > MESSAGE_TEXT_LIMIT:
                raise SlackError("msg_too_long")
            message.text += text
            message.updates += 1
            if blocks is not None:
                message.blocks = blocks
            if finish:
                message.streaming = False
