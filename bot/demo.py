"""``coachbot demo``: the real app, over HTTP, against the local Slack and OpenAI fakes.

It prints a short transcript: two coaching threads, a follow-up that uses the
thread's history, and a restart in between that shows the history survives.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.serve import BackgroundServer
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database

DM_CHANNEL = "D0DEMO"
TEAM_CHANNEL = "C0LEADS"
WIDTH = 78


def coach_reply(request: dict[str, Any]) -> str:
    """A scripted coach whose answer shows which history it was given."""
    said = [m["content"] for m in request["messages"] if m["role"] == "user"]
    if len(said) == 1:
        return (
            f"Thanks for bringing this. You said: “{said[0][:70]}”. "
            "What would a good outcome look like for you?"
        )
    return (
        f"This is message {len(said)} in our session. Earlier you told me “{said[0][:50]}…”, "
        f"and now “{said[-1][:50]}”. What is one small step you could take before then?"
    )


def _print_turn(who: str, text: str) -> None:
    print(f"  {who:>9}: {text}")


def _turn(slack: SlackEmulator, server: BackgroundServer, event: dict[str, Any], thread_ts: str) -> None:
    _print_turn("coach", event["text"])
    before = len(slack.replies_in(event["channel"], thread_ts))
    slack.send_event(server.events_url, event)
    replies = slack.wait_for_replies(event["channel"], thread_ts, count=before + 1, timeout=30)
    _print_turn("coachbot", replies[-1].text)


def _settings(slack: SlackEmulator, model: FakeOpenAI, database_path: Path) -> Settings:
    return Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=slack.signing_secret,
        slack_api_url=slack.base_url,
        openai_api_key=model.api_key,
        openai_base_url=model.base_url,
        database_url=f"sqlite:///{database_path}",
        log_level="WARNING",
    )


def _print_timings(server: BackgroundServer) -> None:
    summary = server.runtime.coaching.timings.summary()
    for name in ("event_to_model_ms", "first_token_to_slack_ms", "last_token_to_final_ms"):
        row = summary[name]
        print(f"  {name:<26} p50 {row['p50']} ms   (turns: {row['count']})")


def run_demo(data_dir: str = "demo-data") -> int:
    folder = Path(data_dir)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    database = folder / "coachbot-demo.db"
    with (
        SlackEmulator() as slack,
        FakeOpenAI(ttft=0.4, tokens_per_second=60, reply=coach_reply) as model,
    ):
        settings = _settings(slack, model, database)
        upgrade_database(settings.database_url)
        print("=" * WIDTH)
        print("coachbot demo: the real app over HTTP, a local Slack emulator, a fake OpenAI")
        print(f"(model: 400 ms to first token, 60 tokens/s; database: {database})")
        print("=" * WIDTH)

        with BackgroundServer(settings) as server:
            first = slack.user_says(channel=DM_CHANNEL, text="I have a hard 1:1 with my report tomorrow.")
            dm_thread = first["ts"]
            print("\nThread 1 — a direct message")
            _turn(slack, server, first, dm_thread)

            mention = slack.mention(channel=TEAM_CHANNEL, text="how do I give feedback to a peer?")
            team_thread = mention["ts"]
            print("\nThread 2 — an @mention in #leads (a separate session)")
            _turn(slack, server, mention, team_thread)
            _print_timings(server)

        print("\n— coachbot restarts; nothing is kept in memory —")
        with BackgroundServer(settings) as server:
            print("\nThread 1 again — the follow-up uses the history stored before the restart")
            follow_up = slack.user_says(
                channel=DM_CHANNEL, thread_ts=dm_thread, text="They missed two deadlines in a row."
            )
            _turn(slack, server, follow_up, dm_thread)

        reads = [c.method for c in slack.calls if c.method.startswith("conversations.")]
        print(f"\nSlack conversations.* reads: {len(reads)} (history comes from our database)")
        print("=" * WIDTH)
    return 0
