"""The bot scopes an install asks for when SLACK_SCOPES is unset: manifest.yml's, kept in step by a test."""

BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "groups:history",
    "im:history",
    "chat:write",
    "commands",
    "users:read",
    "im:write",
    "files:read",
    "reactions:write",
    "files:write",
)
