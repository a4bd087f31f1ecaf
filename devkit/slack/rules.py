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
