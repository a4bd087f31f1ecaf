"""``python -m bench.prompt_cost``: what building one turn's prompt costs (token counting + trimming).

A 40-message coaching history in English and Japanese (the turn scenario's long thread reads 40),
built into a prompt as every turn does: "warm" is a follow-up turn (earlier messages' counts are
cached), "cold" the first turn after a restart (every message tokenized). To compare with an
earlier checkout, run this file with that checkout first on the path:
``PYTHONPATH=/path/to/old python bench/prompt_cost.py``.
"""

from __future__ import annotations

import statistics
import time

from bot.conversation import prompt
from storage.conversations import HistoryMessage

MESSAGES = 40
ROUNDS = 300
_EN = "I keep putting off the difficult conversation with my manager about my workload and priorities. "
_JA = "来週のプレゼンに向けて、チームとの役割分担をどう話し合えばよいか悩んでいます。"


def history(turn: int) -> list[HistoryMessage]:
    """A session's newest messages; ``turn`` makes the newest one new text, as a real turn's is."""
    roles = ("user", "assistant")
    older = [HistoryMessage(roles[i % 2], f"{i} " + (_EN if i % 3 else _JA) * 3) for i in range(MESSAGES - 1)]
    return [*older, HistoryMessage("user", f"turn {turn}: " + _EN)]


def clear_caches() -> None:
    counter = getattr(getattr(prompt, "count_tokens", None), "cache_clear", None)
    if counter is not None:
        counter()


def measure(*, cold: bool) -> float:
    """The median microseconds of build_messages over ROUNDS turns."""
    samples = []
    for turn in range(ROUNDS):
        turns = history(turn)
        if cold:
            clear_caches()
        started = time.perf_counter()
        prompt.build_messages(turns, system_prompt=prompt.DEFAULT_SYSTEM_PROMPT, token_budget=12_000)
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> None:
    prompt.build_messages(history(0), system_prompt="warm-up", token_budget=12_000)
    print(f"{prompt.__file__}")
    print(f"  warm (follow-up turn) p50: {measure(cold=False):.0f} µs")
    print(f"  cold (after a restart) p50: {measure(cold=True):.0f} µs")


if __name__ == "__main__":
    main()
