"""``coachbot try``: the real app, the Slack emulator with its browser page, and a model.

The model is the one ``OPENAI_API_KEY`` (and ``OPENAI_BASE_URL``, ``OPENAI_MODEL``) name, or
else the fake model with a scripted coach. One URL on 127.0.0.1 is printed; the page there is
a small Slack drawn from the Web API calls the app made (``devkit.slack.page``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.scripted_coach import scripted_coach_reply
from devkit.slack.page import PEOPLE, PageServer, build_page_app
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database

ADMINS = frozenset(p.user_id for p in PEOPLE if p.is_admin)


@dataclass
class TryOut:
    """Everything ``coachbot try`` runs, for the command and for tests."""

    url: str
    slack: SlackEmulator
    app: BackgroundServer
    model_name: str  # "the scripted fake model", or the real model's name


def try_settings(base: Settings, slack: SlackEmulator, data_dir: Path, model: FakeOpenAI | None) -> Settings:
    """``base`` (from the environment) pointed at the emulator, a local database and the model."""
    overrides: dict[str, object] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": slack.base_url,
        "database_url": f"sqlite:///{data_dir / 'coachbot-try.db'}",
        "attachments_dir": str(data_dir / "attachments"),
        "perf_admin_ids": base.perf_admin_ids | ADMINS,
        "s3_bucket": None,  # shared files stay in data_dir
        "log_level": "WARNING",  # the terminal shows the URL; the app's warnings and errors still show
    }
    if model is not None:
        overrides.update(openai_api_key=model.api_key, openai_base_url=model.base_url)
    return base.with_overrides(**overrides)


@contextmanager
def running_tryout(base: Settings, data_dir: Path, *, port: int = 0) -> Iterator[TryOut]:
    """Start the emulator, the model (fake unless ``base`` has a key), the app and the page."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(SlackEmulator())
        model = None
        if not base.openai_api_key:
            model = stack.enter_context(
                FakeOpenAI(ttft=0.5, tokens_per_second=40, reply=scripted_coach_reply)
            )
        settings = try_settings(base, slack, data_dir, model)
        upgrade_database(settings.database_url)
        app = stack.enter_context(BackgroundServer(settings))
        page_app = build_page_app(slack, app.events_url)
        page = stack.enter_context(PageServer(page_app, port=port, before_stop=slack.open_feed().end))
        name = "the scripted fake model" if model is not None else settings.openai_model
        yield TryOut(url=page.url, slack=slack, app=app, model_name=name)


def run_try(
    base: Settings, *, data_dir: str = "try-data", port: int = 0, wait: Callable[[], None] | None = None
) -> int:
    """Run until Ctrl-C (or ``wait`` returns), printing the one URL to open."""
    with running_tryout(base, Path(data_dir), port=port) as tryout:
        print(f"coachbot try: a local Slack with coachbot, replies from {tryout.model_name}")
        print(f"Open {tryout.url}  (Ctrl-C stops; data in {data_dir}/)", flush=True)
        try:
            (wait or threading.Event().wait)()
        except KeyboardInterrupt:
            print("\ncoachbot try: stopped")
    return 0
