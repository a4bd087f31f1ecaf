"""The agent panel (Bolt's Assistant): greeting, prompts, and the coach's messages."""

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.conversation.message_edits import is_edit_or_deletion
from bot.operations.metrics import timed
from handlers.assistant.thread_context_changed import handle_thread_context_changed
from handlers.assistant.thread_started import handle_thread_started
from handlers.assistant.user_message import handle_user_message


class CoachAssistant(AsyncAssistant):
    """Bolt's Assistant, except that edits and deletions in its threads reach the app's listeners.

    Bolt acknowledges every other message subtype in an assistant thread itself, so an edited or
    deleted message in the agent panel would never reach ``handlers.events``.
    """

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        if is_edit_or_deletion(req.body):
            await next()
            return None
        return await super().async_process(req=req, resp=resp, next=next)


def register(app: AsyncApp) -> None:
    assistant = CoachAssistant()
    assistant.thread_started(timed(handle_thread_started))
    assistant.user_message(timed(handle_user_message))
    assistant.thread_context_changed(timed(handle_thread_context_changed))
    app.assistant(assistant)
