"""Slack listeners. Each folder registers its own; the app calls ``register`` once."""

from slack_bolt.async_app import AsyncApp

from handlers import actions, assistant, commands, events


def register(app: AsyncApp) -> None:
    assistant.register(app)
    events.register(app)
    commands.register(app)
    actions.register(app)
