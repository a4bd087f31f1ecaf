"""What a coach in crisis is told, in place of ordinary coaching.

The resources are configurable (CRISIS_RESOURCES): a company knows its EAP's number and its
countries' emergency numbers; the default points to both without guessing a number for them.
"""

from __future__ import annotations

DEFAULT_CRISIS_RESOURCES = (
    "• If you are in danger or might act on these thoughts, call your local emergency number now "
    "(for example 112 in Europe, 911 in the US and Canada, 999 in the UK) or go to the nearest "
    "emergency department.\n"
    "• Your company's Employee Assistance Programme (EAP) offers free, confidential support from "
    "trained counsellors, usually around the clock: HR or the intranet has its number.\n"
    "• You can also reach a local crisis line, or someone you trust, today."
)

_CARE = (
    "Thank you for telling me. What you are going through sounds really hard, and it matters "
    "more than anything we were working on. I'm an AI coach, so I can't give you the support you "
    "deserve right now, but people can, and reaching out is a strong step:\n\n{resources}\n\n"
    "You don't have to go through this alone. When you feel ready, I'm here to coach you again."
)
#: Between the model's text already shown and the caring message, when the flag came late.
LATE_LEAD_IN = "\n\n—\n"


def crisis_text(resources: str) -> str:
    """The caring reply, with the configured resources."""
    return _CARE.format(resources=resources.strip() or DEFAULT_CRISIS_RESOURCES)
