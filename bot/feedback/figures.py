"""The helpful rate: overall, per workspace, per model and per prompt version. Counts only.

A figure is shown only when at least ``MIN_COACHES`` distinct coaches rated the replies behind
it: the follow-through figures' rule (``bot.operations.follow_through.Figure``), so a small
team's report can't tell whose rating it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.operations.follow_through import HIDDEN, Figure
from storage.feedback import FeedbackCounts


@dataclass(frozen=True)
class HelpfulRate:
    """Ratings behind one figure: thumbs up, all ratings, distinct coaches."""

    counts: FeedbackCounts = field(default_factory=FeedbackCounts)

    @property
    def shown(self) -> bool:
        return Figure(self.counts.rated, self.counts.coaches).shown

    def text(self) -> str:
        c = self.counts
        return (
            f"{c.helpful / c.rated:.0%} helpful ({c.helpful:,} of {c.rated:,} rated)"
            if self.shown
            else HIDDEN
        )

    def as_json(self) -> dict[str, Any]:
        c = self.counts
        if not self.shown:
            return {"shown": False}
        return {"shown": True, "helpful": c.helpful, "rated": c.rated, "rate": round(c.helpful / c.rated, 3)}


@dataclass(frozen=True)
class FeedbackFigures:
    overall: HelpfulRate = field(default_factory=HelpfulRate)
    by_team: dict[str, HelpfulRate] = field(default_factory=dict)
    by_model: dict[str, HelpfulRate] = field(default_factory=dict)
    by_prompt_version: dict[str, HelpfulRate] = field(default_factory=dict)

    @classmethod
    def of(cls, counts: dict[str, dict[str | None, FeedbackCounts]]) -> FeedbackFigures:
        def rates(by: str) -> dict[str, HelpfulRate]:
            return {str(key): HelpfulRate(c) for key, c in counts.get(by, {}).items()}

        return cls(
            overall=HelpfulRate(counts.get("all", {}).get(None, FeedbackCounts())),
            by_team=rates("team"),
            by_model=rates("model"),
            by_prompt_version=rates("prompt_version"),
        )

    def as_json(self) -> dict[str, Any]:
        """For /perf and /metrics: no workspace names, only model and prompt version."""
        return {
            "overall": self.overall.as_json(),
            "by_model": {name: rate.as_json() for name, rate in self.by_model.items()},
            "by_prompt_version": {name: rate.as_json() for name, rate in self.by_prompt_version.items()},
        }

    def lines(self) -> list[str]:
        """/perf's lines: the rate overall, then per model and per prompt version."""
        lines = [f"Overall: {self.overall.text()}"]
        lines += [f"Model `{name}`: {rate.text()}" for name, rate in sorted(self.by_model.items())]
        lines += [f"Prompt `{name}`: {rate.text()}" for name, rate in sorted(self.by_prompt_version.items())]
        return lines
