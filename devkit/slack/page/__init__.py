"""A small local Slack in the browser, drawn from what the emulator recorded (``coachbot try``).

``build_page_app(emulator, events_url)`` is a Starlette app: the page, its script and styles
(no build step), a Server-Sent Events feed of every Web API call the app made, and the
actions a person takes (type, press, submit, upload, open App Home), which reach the app as
signed events and interactions, exactly as Slack sends them. ``PageServer`` runs it on uvicorn.
"""

from devkit.slack.page.app import build_page_app
from devkit.slack.page.people import PEOPLE, Person
from devkit.slack.page.server import PageServer

__all__ = ["PEOPLE", "PageServer", "Person", "build_page_app"]
