"""The agent panel (Bolt's Assistant): greeting, prompts, and the coach's messages."""

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant

from bot.metrics import timed
from handlers.assistant.thread_context_changed import handle_thread_context_changed
from handlers.assistant.thread_started import handle_thread_started
from handlers.assistant.user_message import handle_user_message


def register(app: AsyncApp) -> None:
    assistant = AsyncAssistant()
    assistant.thread_started(timed(handle_thread_started))
    assistant.user_message(timed(handle_user_message))
    assistant.thread_context_changed(timed(handle_thread_context_changed))
    app.assistant(assistant)
