"""The bot's own cost per coaching turn, one coach at a time.

Runs the real HTTP app against the devkit fakes (model: 400 ms to first token,
60 tokens/s by default) and reports, from the app's own timings and from the
fakes' clocks (time.perf_counter is system-wide, so the processes agree):

- event received → model request sent (app) and event sent → model request received (fakes)
- model's first token → first text at Slack (fakes)
- model's last token → final Slack call done (app)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.serve import BackgroundServer
from bot.timing import percentile
from devkit.fake_openai import FakeOpenAI
from devkit.slack_emulator import SlackEmulator
from storage.migrate import upgrade_database


def run(turns: int, ttft: float, tps: float, database_url: str | None) -> dict[str, float | None]:
    with (
        SlackEmulator() as slack,
        FakeOpenAI(ttft=ttft, tokens_per_second=tps, reply=lambda _: "A steady coaching reply. " * 8) as model,
        tempfile.TemporaryDirectory() as folder,
    ):
        url = database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        settings = Settings(
            slack_bot_token=slack.bot_token,
            slack_signing_secret=slack.signing_secret,
            slack_api_url=slack.base_url,
            openai_api_key=model.api_key,
            openai_base_url=model.base_url,
            database_url=url,
            log_level="WARNING",
        )
        to_model: list[float] = []
        first_text: list[float] = []
        with BackgroundServer(settings) as server:
            thread = None
            for n in range(turns + 2):
                event = slack.user_says(channel="D0BENCH", text=f"message {n}", thread_ts=thread)
                thread = thread or event["ts"]
                before = len(slack.replies_in("D0BENCH", thread))
                slack.reset_calls()
                sent = time.perf_counter()
                slack.send_event(server.events_url, event)
                slack.wait_for_replies("D0BENCH", thread, count=before + 1, timeout=30, poll=0.005)
                request = model.requests[-1]
                starts = slack.calls_to("chat.startStream")
                if n >= 2:  # the first turns warm connections and caches
                    to_model.append((request.received_at - sent) * 1000)
                    first_text.append((starts[0].at - request.first_token_at) * 1000)
            app = server.runtime.coaching.timings.summary()
        return {
            "turns": turns,
            "event_sent_to_model_received_ms_p50": statistics.median(to_model),
            "event_sent_to_model_received_ms_p99": percentile(to_model, 0.99),
            "app_event_to_model_ms_p50": app["event_to_model_ms"]["p50"],
            "first_token_to_slack_ms_p50": statistics.median(first_text),
            "first_token_to_slack_ms_p99": percentile(first_text, 0.99),
            "app_last_token_to_final_ms_p50": app["last_token_to_final_ms"]["p50"],
            "app_last_token_to_final_ms_p99": app["last_token_to_final_ms"]["p99"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--ttft", type=float, default=0.4)
    parser.add_argument("--tps", type=float, default=60)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    for name, value in run(args.turns, args.ttft, args.tps, args.database_url).items():
        print(f"{name:<42} {value if value is None else round(value, 3)}")


if __name__ == "__main__":
    main()
