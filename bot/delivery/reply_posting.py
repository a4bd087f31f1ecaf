"""The two ways a reply's message is written without streaming, within the workspace's budget.

Post and edit serves two cases: a workspace that cannot stream (edited at most once a second),
and a reply that could not get a stream in a busy workspace (``Part.one_edit``: the first text at
once, then a single chat.update when the message is complete, both paid for when it was chosen).
The complete message carries the part's blocks (``Part.blocks``: a reply's buttons), in the post
of a whole message or the last edit, as ``bot.delivery.reply_message.message_body`` writes them.
"""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.delivery.conversation import SlackConversation
from bot.delivery.reply_message import RATE_LIMITED, Part, WriterStats, error_code, message_body
from bot.delivery.slack_budget import POST_MESSAGE, UPDATE

FALLBACK_UPDATE_INTERVAL = 1.0
POST_ATTEMPTS = 3


class ThreadPoster:
    """Posts a message whole (once complete), or posts it and edits it at most once a second."""

    def __init__(self, conversation: SlackConversation, stats: WriterStats) -> None:
        self._client = conversation.client
        self._target = conversation.target
        self._budget = conversation.budget
        self._workspace = conversation.workspace
        self._stats = stats

    async def post_whole(self, part: Part) -> str:
        """chat.postMessage with the whole part; a rate limit is waited out, never given up on."""
        for attempt in range(POST_ATTEMPTS):
            try:
                ts = await self._post(part.text, blocks=part.blocks)
            except SlackApiError as error:
                if error_code(error) in RATE_LIMITED and attempt + 1 < POST_ATTEMPTS:
                    continue  # the budget now waits out Slack's Retry-After
                raise
            part.confirm()
            self._stats.posted_parts += 1
            return ts
        raise AssertionError("unreachable")  # pragma: no cover

    async def edit(self, part: Part, *, final: bool) -> None:
        """Post the first text, then edit at most once a second; ``final`` always sends the last edit.

        A ``one_edit`` part is not edited until ``final``, and its post and last edit are paid for.
        """
        blocks = part.blocks if final else None
        if part.edit_ts is None:
            part.edit_ts = await self._post(part.text, paid=part.one_edit, blocks=blocks)
        else:
            due = time.monotonic() - part.last_edit >= FALLBACK_UPDATE_INTERVAL
            if not part.unconfirmed and not blocks:
                return
            if final:
                if not part.one_edit:
                    await self._budget.take(self._workspace, UPDATE)
            elif part.one_edit or not due or not self._budget.try_take(self._workspace, UPDATE):
                return
            self._stats.slack_calls += 1
            try:
                await self._client.chat_update(
                    channel=self._target.channel_id, ts=part.edit_ts, **message_body(part.text, blocks)
                )
            except SlackApiError as error:
                if final or error_code(error) not in RATE_LIMITED:
                    raise
                return  # after slack_sdk's own retries: a later edit carries the text
        part.confirm()
        part.last_edit = time.monotonic()

    async def _post(
        self, text: str, *, paid: bool = False, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        if not paid:
            await self._budget.take(self._workspace, POST_MESSAGE, channel=self._target.channel_id)
        self._stats.slack_calls += 1
        self.mark_first_text()
        response = await self._client.chat_postMessage(
            channel=self._target.channel_id, thread_ts=self._target.thread_ts, **message_body(text, blocks)
        )
        return str(response["ts"])

    def mark_first_text(self) -> None:
        if self._stats.first_text_sent_at is None:
            self._stats.first_text_sent_at = time.perf_counter()
