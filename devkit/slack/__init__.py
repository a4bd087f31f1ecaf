"""The devkit's Slack emulator as a package of one-concept modules; ``SlackEmulator`` is the entry.

``devkit.slack_emulator`` re-exports the public names and runs the emulator standalone.
"""

from devkit.slack.arguments import MARKDOWN_TEXT_LIMIT, MESSAGE_TEXT_LIMIT
from devkit.slack.core import DEFAULT_USERS
from devkit.slack.emulator import SlackEmulator
from devkit.slack.rate_limits import METHOD_LIMITS, Limit
from devkit.slack.records import Delivery, Handler, Message, RecordedCall, ResponseUrlPost, SlackError
from devkit.slack.rules import EmulatorRules

__all__ = [
    "DEFAULT_USERS",
    "MARKDOWN_TEXT_LIMIT",
    "MESSAGE_TEXT_LIMIT",
    "METHOD_LIMITS",
    "Delivery",
    "EmulatorRules",
    "Handler",
    "Limit",
    "Message",
    "RecordedCall",
    "ResponseUrlPost",
    "SlackEmulator",
    "SlackError",
]
