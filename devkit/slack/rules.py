"""Which of Slack's documented rules the emulator enforces: all of them unless a test says otherwise.

``SlackEmulator(rules=EmulatorRules(rate_limits=False))`` turns one rule off for a test that is
about something else; ``method_limits={"chat.update": None}`` lifts one method's limit, and
``method_limits={"chat.startStream": Limit(per_minute=2, burst=1)}`` tightens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from devkit.slack.rate_limits import Limit


@dataclass(frozen=True)
class EmulatorRules:
    """Each field is one documented rule; True (or the documented figure) is Slack's behaviour."""

    # Per-method, per-workspace tiers (devkit.slack.rate_limits): HTTP 429 + Retry-After.
    rate_limits: bool = True
    # Per-method overrides of the tier table; None lifts that method's limit.
    method_limits: Mapping[str, Limit | None] = field(default_factory=dict)
    # Per-channel overrides (chat.postMessage's one a second per channel); None lifts it.
    channel_limits: Mapping[str, Limit | None] = field(default_factory=dict)
    # Streams: append/stop only while streaming, no chat.update/delete while streaming,
    # recipient_team_id/recipient_user_id when streaming outside a DM.
    streaming_states: bool = True
    # A stream with no append for this long is ended by Slack (not by the app): Slack documents
    # no figure; developers report streams ended after minutes of silence, so 5 minutes.
    stream_idle_seconds: float = 300.0
    # Argument rules of chat.*: text and markdown_text not together, markdown_text <= 12,000
    # characters, the limits of assistant.threads.setStatus and setSuggestedPrompts.
    argument_limits: bool = True
    # Bot-token scopes: a method the scopes don't grant answers missing_scope.
    scopes: bool = True
    # At teardown the test fixture fails a test that left a stream open (see tests/fixtures/fakes.py).
    streams_must_close: bool = True
