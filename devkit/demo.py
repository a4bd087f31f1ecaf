"""``coachbot demo``: the real app, over HTTP, against the local Slack and OpenAI fakes.

It prints a short transcript: two coaching threads, a follow-up that uses the
thread's history, a restart in between that shows the history survives, a shared
file the coach reads, the ``files`` listing, a wrap-up whose summary the next session
remembers, a 👍 and a 👎 with a note under replies (``devkit.demo_feedback``), the coach's App Home,
what an admin's ``/perf cache`` shows and the coach's data export; then two workspaces installing
the same deployment through the local OAuth flow and coaching side by side; last, the first coach
deletes their data through the confirmation modal.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bot.assembly.config import Settings
from bot.assembly.serve import BackgroundServer
from devkit.demo_erase import run_erase
from devkit.demo_export import run_export
from devkit.demo_feedback import run_feedback
from devkit.demo_home import show_home
from devkit.demo_workspaces import run_two_workspaces
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database

DM_CHANNEL = "D0DEMO"
TEAM_CHANNEL = "C0LEADS"
ADMIN = "U0ADMIN"
WIDTH = 78
NOTES = (
    b"1:1 notes, last month: Sam asked for more ownership of the release process.\n"
    b"Agreed: Sam runs the next release retro. Open: deadlines slipping on the API work.\n"
)


#: What the demo's wrap-up extracts (the fake answers the structured call with it).
WRAP_UP = {
    "summary": "You prepared a hard 1:1: ask why the deadlines slipped, without sounding annoyed.",
    "goals": ["Have the 1:1 about the missed deadlines"],
    "commitments": [
        {"text": "I'll open with a question, not a verdict", "due_date": "2026-12-02", "status": "open"}
    ],
    "remember": ["Sam wants more ownership of the release process"],
}


def coach_reply(request: dict[str, Any]) -> str:
    """A scripted coach whose answer shows which history (and memory) it was given."""
    said = [_text_of(m["content"]) for m in request["messages"] if m["role"] == "user"]
    memory = [m["content"] for m in request["messages"][1:2] if m["role"] == "system"]
    if memory and "open commitments" in memory[0] and len(said) == 1:
        commitment = memory[0].split("Their open commitments:\n- ", 1)[1].splitlines()[0]
        return f"Welcome back. Last time you committed to: “{commitment}”. How did it go?"
    excerpts = [
        m["content"]
        for m in request["messages"]
        if m["role"] == "system" and "[From the file" in m["content"]
    ]
    if excerpts:
        name = excerpts[0].split("[From the file", 1)[1].split("]", 1)[0].strip(' "')
        return f"I read {name}. It says Sam wanted more ownership — how has that gone since?"
    if len(said) == 1:
        return (
            f"Thanks for bringing this. You said: “{said[0][:70]}”. "
            "What would a good outcome look like for you?"
        )
    return (
        f"This is message {len(said)} in our session. Earlier you told me “{said[0][:50]}…”, "
        f"and now “{said[-1][:50]}”. What is one small step you could take before then?"
    )


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if isinstance(part, dict))


def _print_turn(who: str, text: str) -> None:
    print(f"  {who:>9}: {text}")


def _turn(slack: SlackEmulator, server: BackgroundServer, event: dict[str, Any], thread_ts: str) -> None:
    _print_turn("coach", event["text"])
    before = len(slack.replies_in(event["channel"], thread_ts))
    slack.send_event(server.events_url, event)
    replies = slack.wait_for_replies(event["channel"], thread_ts, count=before + 1, timeout=30)
    _print_turn("coachbot", replies[-1].text)


def _turn_quietly(
    slack: SlackEmulator, server: BackgroundServer, event: dict[str, Any], thread_ts: str
) -> None:
    """Like ``_turn`` without echoing the coach (already printed): prints every new bot reply."""
    before = len(slack.replies_in(event["channel"], thread_ts))
    slack.send_event(server.events_url, event)
    replies = slack.wait_for_replies(event["channel"], thread_ts, count=before + 1, timeout=30)
    for reply in replies[before:]:
        _print_turn("coachbot", reply.text)


def _settings(slack: SlackEmulator, model: FakeOpenAI, database_path: Path) -> Settings:
    return Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=slack.signing_secret,
        slack_api_url=slack.base_url,
        openai_api_key=model.api_key,
        openai_base_url=model.base_url,
        database_url=f"sqlite:///{database_path}",
        log_level="WARNING",
        attachments_dir=str(database_path.parent / "attachments"),
        perf_admin_ids=frozenset({ADMIN}),
    )


def _print_perf_cache(slack: SlackEmulator, server: BackgroundServer) -> None:
    """What an admin sees for ``/perf cache``: the Block Kit text, flattened."""
    before = len(slack.response_url_posts())
    slack.send_command(server.events_url, "/perf", "cache", user_id=ADMIN)
    deadline = time.monotonic() + 10
    while len(slack.response_url_posts()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    posts = slack.response_url_posts()[before:]
    if not posts:
        print("  (no answer to /perf)")
        return
    for block in posts[-1].body.get("blocks", []):
        text = (block.get("text") or {}).get("text") or ""
        for line in text.splitlines():
            print(f"  {line}")


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
            again = slack.user_says(
                channel=DM_CHANNEL, thread_ts=dm_thread, text="I want to ask why without sounding annoyed."
            )
            _turn(slack, server, again, dm_thread)

            print("\nThread 1 — the coach shares last month's notes and asks about them")
            notes = slack.add_file("1on1-notes.txt", content=NOTES, mimetype="text/plain", filetype="text")
            shared = slack.file_share(
                channel=DM_CHANNEL, thread_ts=dm_thread, files=[notes], text="What stands out in my notes?"
            )
            _print_turn("coach", f"[shares {notes['name']}] {shared['text']}")
            _turn_quietly(slack, server, shared, dm_thread)
            listing = slack.user_says(channel=DM_CHANNEL, thread_ts=dm_thread, text="files")
            _turn(slack, server, listing, dm_thread)

            print("\nThread 1 — the coach wraps the session up")
            model.queue_json(WRAP_UP)
            done = slack.user_says(
                channel=DM_CHANNEL, thread_ts=dm_thread, text="That's all for now, thanks!"
            )
            _turn(slack, server, done, dm_thread)

            print("\nThread 3 — a new DM the next day: the coach remembers")
            new = slack.user_says(channel=DM_CHANNEL, text="Morning! The 1:1 is in an hour.")
            _turn(slack, server, new, new["ts"])

            print("\nFeedback — Slack's 👍 / 👎 buttons under every reply")
            run_feedback(
                slack,
                server,
                settings.database_url,
                ((TEAM_CHANNEL, team_thread), (DM_CHANNEL, new["ts"])),
                _print_turn,
            )

            print("\nAn admin types /perf cache")
            _print_perf_cache(slack, server)

            print("\nThe coach opens coachbot's Home tab")
            show_home(slack, server)

            print("\nThe coach asks for a copy of their data")
            run_export(slack, server, DM_CHANNEL)

        reads = [  # conversations.open (the export's DM) opens a channel, it reads nothing
            c.method
            for c in slack.calls
            if c.method.startswith("conversations.") and c.method != "conversations.open"
        ]
        print(f"\nSlack conversations.* reads: {len(reads)} (history comes from our database)")

        print("\n" + "-" * WIDTH)
        print("One deployment, two workspaces: each installs coachbot through the OAuth flow")
        print("-" * WIDTH)
        run_two_workspaces(slack, model, folder, _print_turn)

        print("\n" + "-" * WIDTH)
        print("The coach of thread 1 deletes their data")
        print("-" * WIDTH)
        run_erase(slack, settings, DM_CHANNEL)
        print("=" * WIDTH)
    return 0
