"""Event listeners: DMs, @mentions, replies in session threads, and edits and deletions."""

from slack_bolt.async_app import AsyncApp

from bot.operations.metrics import timed
from handlers.events.app_home_opened import (
    acknowledge_home_tab_opened,
    handle_home_tab_opened,
    handle_messages_tab_opened,
    is_home_tab,
    is_messages_tab,
)
from handlers.events.app_mention import handle_app_mention
from handlers.events.app_uninstalled import handle_app_uninstalled, handle_tokens_revoked
from handlers.events.direct_message import handle_direct_message, is_top_level_direct_message
from handlers.events.ignored_message import acknowledge_ignored_message
from handlers.events.message_changed import handle_message_changed
from handlers.events.message_deleted import handle_message_deleted
from handlers.events.thread_reply import handle_thread_reply, is_reply_in_a_channel_thread


def register(app: AsyncApp) -> None:
    app.event("app_mention")(timed(handle_app_mention))
    app.event("app_uninstalled")(handle_app_uninstalled)
    app.event("tokens_revoked")(handle_tokens_revoked)
    app.event("app_home_opened", matchers=[is_messages_tab])(timed(handle_messages_tab_opened))
    app.event("app_home_opened", matchers=[is_home_tab])(timed(handle_home_tab_opened))
    app.event("app_home_opened")(timed(acknowledge_home_tab_opened))
    # app.event rather than app.message: the latter drops messages without text (a file alone).
    app.event("message", matchers=[is_top_level_direct_message])(timed(handle_direct_message))
    app.event("message", matchers=[is_reply_in_a_channel_thread])(timed(handle_thread_reply))
    app.event({"type": "message", "subtype": "message_changed"})(timed(handle_message_changed))
    app.event({"type": "message", "subtype": "message_deleted"})(timed(handle_message_deleted))
    app.event("message")(timed(acknowledge_ignored_message))
