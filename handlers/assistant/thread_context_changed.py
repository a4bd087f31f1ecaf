"""The coach switched channels with the panel open.

Bolt's default saves the new context by reading the thread back with
conversations.replies; coaching does not use the context, and coachbot never
reads conversations from Slack, so this listener just acknowledges it.
"""


async def handle_thread_context_changed() -> None:
    return None
