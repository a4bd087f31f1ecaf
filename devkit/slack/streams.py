"""chat.startStream / appendStream / stopStream, and the states a streamed message goes through.

As Slack does (method pages, and what Slack answers in practice): a stream is a thread reply;
in a channel (not a DM) it needs ``recipient_team_id`` and ``recipient_user_id``; each call adds
at most 12,000 characters of ``markdown_text``. Append and stop work only while the message is
streaming (``message_not_in_streaming_state`` after it stopped or expired); chat.update and
chat.delete refuse a message that is still streaming (see ``devkit.slack.chat``). Slack ends a
stream that gets no append for a while; the emulator does so after ``stream_idle_seconds``, or
when a test calls ``end_stream`` (or injects ``message_not_in_streaming_state``). ``open_streams()``
lists every stream the app started and neither stopped nor lost to Slack: Slack would show it
as still being written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from devkit.slack.arguments import MESSAGE_TEXT_LIMIT, json_list, require_channel, stream_text, thread_of
from devkit.slack.blocks import block_problem
from devkit.slack.core import EmulatorCore
from devkit.slack.records import Message, SlackError

# Conversation ids whose first letter says "direct message": recipients are implied there.
_DIRECT_MESSAGE_PREFIXES = ("D",)


class StreamsMixin(EmulatorCore):
    """The chat.*Stream methods and the list of streams left open."""

    def _setup_streams(self) -> None:
        self._streams: dict[tuple[str, str], Message] = {}
        self._open_streams_allowed = False

    def open_streams(self) -> list[Message]:
        """Snapshots of streams still streaming: started, never stopped, not ended by Slack."""
        self._expire_idle_streams()
        with self._lock:
            found = [dataclasses.replace(m) for m in self._streams.values() if m.streaming]
        return sorted(found, key=lambda m: (m.channel, m.ts))

    def end_stream(self, channel: str, ts: str) -> None:
        """End a stream as Slack does when it loses one: no longer streaming, never stopped."""
        with self._lock:
            message = self._streams.get((channel, ts))
            if message is not None and message.streaming:
                message.streaming = False
                message.expired = True

    def allow_open_streams(self) -> None:
        """Say that this test leaves a stream open on purpose (the fixture then won't fail it)."""
        self._open_streams_allowed = True

    @property
    def open_streams_allowed(self) -> bool:
        return self._open_streams_allowed or not self.rules.streams_must_close

    def _chat_start_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = require_channel(args)
        thread_ts = thread_of(args)
        if thread_ts is None:
            raise SlackError("invalid_arguments", detail="thread_ts is required: streams are thread replies")
        if self.rules.streaming_states and not channel.startswith(_DIRECT_MESSAGE_PREFIXES):
            for name in ("recipient_team_id", "recipient_user_id"):
                if not args.get(name):
                    raise SlackError(
                        "invalid_arguments", detail=f"{name} is required when streaming in a channel"
                    )
        text = stream_text(args)
        message = self._new_bot_message(
            channel, thread_ts, text, streaming=True, last_append_at=self._clock()
        )
        with self._lock:
            self._streams[(channel, message.ts)] = message
        return {"channel": channel, "ts": message.ts}

    def _chat_append_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        self._append(message, stream_text(args))
        return {"channel": message.channel, "ts": message.ts}

    def _chat_stop_stream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming_message(args)
        blocks = json_list(args.get("blocks"))
        if blocks is not None and self.rules.argument_limits:
            problem = block_problem(blocks) if len(blocks) <= 50 else "at most 50 blocks in a message"
            if problem is not None:
                raise SlackError("invalid_blocks", detail=problem)
        self._append(message, stream_text(args), finish=True, blocks=blocks)
        return {"channel": message.channel, "ts": message.ts, "message": self._slack_message(message)}

    def _streaming_message(self, args: dict[str, Any]) -> Message:
        message = self._find(args)
        self._expire_if_idle(message, self._clock() - self.rules.stream_idle_seconds)
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
            message.last_append_at = self._clock()
            if blocks is not None:
                message.blocks = blocks
            if finish:
                message.streaming = False
                message.stopped = True

    def _expire_idle_streams(self) -> None:
        """End every stream quiet for longer than ``stream_idle_seconds``, as Slack does."""
        cutoff = self._clock() - self.rules.stream_idle_seconds
        with self._lock:
            streams = list(self._streams.values())
        for message in streams:
            self._expire_if_idle(message, cutoff)

    def _expire_if_idle(self, message: Message, cutoff: float) -> None:
        if not self.rules.streaming_states:
            return
        with self._lock:
            if message.streaming and message.last_append_at < cutoff:
                message.streaming = False
                message.expired = True
