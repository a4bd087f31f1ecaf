"""Block actions: the inputs of ``/coach admin``'s settings message."""

import re

from slack_bolt.async_app import AsyncApp

from handlers.actions.coach_admin import handle_coach_admin_choice


def register(app: AsyncApp) -> None:
    app.action(re.compile(r"^coach_admin_"))(handle_coach_admin_choice)
