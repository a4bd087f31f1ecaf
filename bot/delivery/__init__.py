"""Slack writes of a turn: the streamed reply, its parts, and the workspace's rate budget."""
