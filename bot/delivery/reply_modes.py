"""How each message of a reply is written, chosen when its first text is ready.

The order is the coach's: a stream shows the reply as it is written; without one, a post of
the first text that is edited once at the end shows it almost as soon; a post of the whole
message once complete is the last resort, and never fails for a rate limit. Each choice takes
from the workspace's budget (``bot.delivery.slack_budget``) everything it will need, so a message that
starts one way can always be finished that way.
"""

from __future__ import annotations

import logging

from bot.delivery.reply_message import Mode, Part
from bot.delivery.slack_budget import POST_MESSAGE, START_STREAM, STOP_STREAM, UPDATE, SlackRateBudget

logger = logging.getLogger(__name__)


class StreamingSupport:
    """Remembers, per process, that Slack refused streaming, so later replies skip it."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def disable(self, reason: str) -> None:
        if self.enabled:
            logger.warning("Slack streaming unavailable (%s); falling back to post and update", reason)
        self.enabled = False


def choose_mode(
    part: Part,
    budget: SlackRateBudget,
    workspace: str,
    channel: str,
    *,
    streaming: StreamingSupport,
    may_stream: bool,
    final: bool,
) -> None:
    """Set ``part.mode``, spending what it needs; ``final``: the message is complete already."""
    if not streaming.enabled:
        part.mode = Mode.EDIT  # a workspace that cannot stream: edited once a second as it goes
    elif may_stream and budget.try_take(workspace, START_STREAM, STOP_STREAM):
        part.mode = Mode.STREAM  # a started stream can always be stopped
        part.counted = True
        budget.stream_opened(workspace)
    elif not final and budget.try_take(workspace, POST_MESSAGE, UPDATE, channel=channel):
        part.mode = Mode.EDIT  # the first text now, and one chat.update when the message ends
        part.one_edit = True
    else:
        part.mode = Mode.WHOLE
