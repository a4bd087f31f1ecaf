"""Slash commands that several capabilities share, such as ``/coach``."""
