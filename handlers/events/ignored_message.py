"""Messages that start no turn: other bots, edits, deletions, unrelated channel chatter.

They are acknowledged all the same; an unanswered event would make Slack
retry it, and eventually disable the subscription.
"""


async def acknowledge_ignored_message() -> None:
    return None
