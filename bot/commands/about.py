"""``/coach help``'s opening: what the bot does, its boundaries, and where this deployment keeps
the coach's data. Built once at assembly from the settings, so it names this deployment's own
file store, retention and crisis resources, never a guess.
"""

from __future__ import annotations

from bot.assembly.config import Settings
from bot.safety.crisis import DEFAULT_CRISIS_RESOURCES


def help_intro(settings: Settings) -> str:
    """The paragraphs above the subcommands in ``/coach help``."""
    files = f"the S3 bucket `{settings.s3_bucket}`" if settings.s3_bucket else "this server's file store"
    if settings.retention_days:
        kept = (
            f"Sessions with no activity for {settings.retention_days} days are deleted "
            f"(`RETENTION_DAYS`, set by whoever runs coachbot)."
        )
    else:
        kept = "They are kept until you delete them (`RETENTION_DAYS` is not set here)."
    resources = (settings.crisis_resources or DEFAULT_CRISIS_RESOURCES).strip()
    return "\n".join(
        [
            "*I'm coachbot, an AI coach.* Talk to me in a DM, in the agent view, or by @mentioning me "
            "in a thread: each thread is one coaching session. I ask questions to help you think through "
            "goals, feedback and growth, remember what you worked on, and check in on what you committed to. "
            "Rate any reply with 👍 or 👎 under it.",
            "",
            "*What I am not.* I'm an AI, not a person, and not a therapist, doctor, lawyer or HR: I give no "
            "therapeutic, medical, legal or HR advice, and I may be wrong. If you are thinking of harming "
            "yourself or someone else, please reach out now:",
            resources,
            "",
            "*Where your data lives.* Your messages, session summaries, goals, commitments and feedback are "
            f"in this deployment's database; files you share are in {files}, read only for your sessions. "
            f"{kept} `/coach export` sends you all of it; `/coach delete` removes all of it.",
        ]
    )
