"""Event listeners: DMs, @mentions and replies in session threads."""

from slack_bolt.async_app import AsyncApp

from handlers.events.app_mention import handle_app_mention
from handlers.events.direct_message import handle_direct_message, is_top_level_direct_message
from handlers.events.ignored_message import acknowledge_ignored_message
from handlers.events.thread_reply import handle_thread_reply, is_reply_in_a_channel_thread


def register(app: AsyncApp) -> None:
    app.event("app_mention")(handle_app_mention)
    # app.event rather than app.message: the latter drops messages without text (a file alone).
    app.event("message", matchers=[is_top_level_direct_message])(handle_direct_message)
    app.event("message", matchers=[is_reply_in_a_channel_thread])(handle_thread_reply)
    app.event("message")(acknowledge_ignored_message)
