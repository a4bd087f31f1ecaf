"""Uninstalling: the installation goes at once; the workspace's data after UNINSTALL_RETENTION_DAYS.

Two workspaces installed through the install flow each hold a session with a stored file; one
uninstalls (``app_uninstalled``, or its bot token revoked with ``tokens_revoked``). Its token can't
be found any more; once the retention window has passed the purge deletes its rows and files, and
the other workspace's are untouched. Reinstalling within the window keeps everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.assembly.serve import BackgroundServer
from devkit.oauth_browser import install
from devkit.slack_emulator import SlackEmulator
from jobs.database import create_jobs_engine
from jobs.uninstalls import purge_uninstalled_workspaces
from storage.models import attachments, coach_goals, coaching_sessions, workspace_uninstalls
from tests.fixtures.app import converse
from tests.fixtures.installs import ALPHA, BRAVO
from tests.fixtures.waiting import eventually

DM = {ALPHA: "D0ALPHA", BRAVO: "D0BRAVO"}


@pytest.fixture
def jobs_engine(database_url: str) -> Iterator[Engine]:
    engine = create_jobs_engine(database_url)
    yield engine
    engine.dispose()


def coach_with_a_file(slack: SlackEmulator, server: BackgroundServer, team: str) -> None:
    file = slack.add_file(f"{team}-notes.txt", content=f"notes of {team}".encode())
    event = slack.file_share(channel=DM[team], files=[file], text="here are my notes", team_id=team)
    converse(slack, server, event)


def rows_by_team(engine: Engine, table) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.team_id, func.count()).group_by(table.c.team_id)).all()
    return {team: count for team, count in rows}


def remember_a_goal(engine: Engine, team: str) -> None:
    with engine.begin() as connection:
        connection.execute(coach_goals.insert().values(team_id=team, user_id="U0COACH", text="Delegate more"))


def uninstall_marks(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(workspace_uninstalls)).scalar_one()


def stored_files(server: BackgroundServer) -> set[str]:
    root = Path(server.settings.attachments_dir)
    return {path.relative_to(root).parts[0] for path in root.rglob("*") if path.is_file()}


def purge(server: BackgroundServer, engine: Engine, *, days_later: int) -> None:
    files = server.runtime.files
    assert files is not None

    def delete_files(prefix: str) -> int:
        return server.run_coroutine(files.delete_prefix(prefix))

    now = datetime.now(UTC) + timedelta(days=days_later)
    purge_uninstalled_workspaces(engine, retention_days=30, now=now, delete_files=delete_files)


@pytest.mark.parametrize("how", ["app_uninstalled", "tokens_revoked"])
def test_an_uninstalled_workspace_loses_its_token_at_once_and_its_data_after_the_window(
    installable: SlackEmulator, multi_workspace: BackgroundServer, jobs_engine: Engine, how: str
):
    slack, server = installable, multi_workspace
    for team in (ALPHA, BRAVO):
        coach_with_a_file(slack, server, team)
    assert stored_files(server) == {ALPHA, BRAVO}
    for team in (ALPHA, BRAVO):
        remember_a_goal(jobs_engine, team)

    event = slack.uninstall(ALPHA) if how == "app_uninstalled" else slack.tokens_revoked_event(ALPHA)
    assert slack.send_event(server.events_url, slack.envelope(event, team_id=ALPHA)).status == 200

    installs = server.runtime.installs
    assert installs is not None
    # The event is acked first and handled just after: wait for the installation to go.
    # (Bolt's own tokens_revoked listener deletes the bot row, ours every installation row: wait
    # for both, as they run side by side.)
    assert eventually(lambda: server.run_coroutine(installs.client_for(ALPHA)) is None)
    assert eventually(
        lambda: (
            server.run_coroutine(installs.store.async_find_installation(enterprise_id=None, team_id=ALPHA))
            is None
        )
    )
    assert server.run_coroutine(installs.client_for(BRAVO)) is not None
    # The workspace is marked for the purge just after its installation rows are deleted.
    assert eventually(lambda: uninstall_marks(jobs_engine) == 1)

    purge(server, jobs_engine, days_later=29)  # inside the window: nothing goes
    assert rows_by_team(jobs_engine, coaching_sessions) == {ALPHA: 1, BRAVO: 1}

    purge(server, jobs_engine, days_later=31)
    assert rows_by_team(jobs_engine, coaching_sessions) == {BRAVO: 1}
    assert rows_by_team(jobs_engine, attachments) == {BRAVO: 1}
    assert stored_files(server) == {BRAVO}
    assert rows_by_team(jobs_engine, coach_goals) == {BRAVO: 1}  # the coaches' memory goes too
    assert uninstall_marks(jobs_engine) == 0

    converse(slack, server, slack.user_says(channel=DM[BRAVO], text="still here?", team_id=BRAVO))


def test_reinstalling_within_the_window_keeps_the_workspaces_data(
    installable: SlackEmulator, multi_workspace: BackgroundServer, jobs_engine: Engine
):
    slack, server = installable, multi_workspace
    coach_with_a_file(slack, server, ALPHA)
    slack.send_event(server.events_url, slack.envelope(slack.uninstall(ALPHA), team_id=ALPHA))
    assert eventually(lambda: uninstall_marks(jobs_engine) == 1)

    assert install(server.url, team_id=ALPHA).status == 200
    purge(server, jobs_engine, days_later=31)

    assert rows_by_team(jobs_engine, coaching_sessions) == {ALPHA: 1}
    assert stored_files(server) == {ALPHA}
    converse(slack, server, slack.user_says(channel=DM[ALPHA], text="back again", team_id=ALPHA))
