"""The demo's last step: the coach deletes their data through the confirmation modal.

``/coach delete`` opens the modal (views.open with the command's trigger); the coach confirms it
(a signed view_submission); the modal then shows the counts, and the database and the file
store are checked for anything of theirs left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.slack_emulator import SlackEmulator
from storage.engine import sync_url
from storage.erasures import erasure_conditions
from storage.memory_records import Coach
from storage.models import Base

COACH = "U0COACH"


def _wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _rows_left(settings: Settings, coach: Coach) -> int:
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as connection:
            return sum(
                connection.execute(
                    select(func.count()).select_from(Base.metadata.tables[name]).where(where)
                ).scalar_one()
                for name, where in erasure_conditions(Base.metadata, coach).items()
            )
    finally:
        engine.dispose()


def _stored(folder: Path) -> str:
    """Files in the demo's local store (only this coach shared any in the first part)."""
    count = sum(1 for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0
    return f"{count} stored file{'' if count == 1 else 's'}"


def run_erase(slack: SlackEmulator, settings: Settings, channel: str) -> None:
    """The coach of the demo's first part deletes everything coachbot keeps about them."""
    coach = Coach(slack.team_id, COACH)
    files = Path(settings.attachments_dir)
    print(f"  before: {_rows_left(settings, coach)} rows and {_stored(files)} of theirs")
    with BackgroundServer(settings) as server:
        opened, updates = len(slack.opened_views), len(slack.calls_to("views.update"))
        slack.send_command(server.events_url, "/coach", "delete", user_id=COACH, channel_id=channel)
        modal = _wait_for(lambda: slack.opened_views[opened:])[0]
        print(f"  coach: /coach delete → a modal “{modal['title']['text']}”: [{modal['submit']['text']}]")
        slack.submit_view(server.events_url, modal, {}, user=COACH)
        update = _wait_for(lambda: slack.calls_to("views.update")[updates:])[0]
        view = update.args["view"]
        view = json.loads(view) if isinstance(view, str) else view
        print(f"  coachbot (in the modal): {view['blocks'][0]['text']['text']}")
    print(f"  after: {_rows_left(settings, coach)} rows and {_stored(files)} of theirs")
