"""Feedback on every reply: Slack's feedback buttons, one rating per coach per reply, the helpful rate."""
