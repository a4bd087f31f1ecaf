"""Putting the app together: settings, the Bolt app, the ASGI server and the CLI."""
