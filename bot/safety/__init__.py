"""Crisis care: a coach's message that speaks of self-harm or violence gets care, not coaching."""
