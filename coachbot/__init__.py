"""``python -m coachbot``: the same command as ``coachbot`` (bot.cli); the code lives in bot/."""
