"""The coach's App Home: their sessions, memory, files and settings, in one ``views.publish``."""
