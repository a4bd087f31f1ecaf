"""``python -m coachbot``: the same command as ``coachbot`` (bot.assembly.cli); the code lives in bot/."""
