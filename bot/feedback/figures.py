"""The helpful rate: overall, per workspace, per model and per prompt version. Counts only.

A figure is shown only when at least ``MIN_COACHES`` distinct coaches rated the replies behind
it: the follow-through figures' rule (``bot.operations.follow_through.Figure``), so a small
team's report can't tell whose rating it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bot.operations.follow_through import HIDDEN, Figure
from storage.feedback import FeedbackCounts, Key, feedback_counts_in
from storage.models import reply_feedback


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
    def of(cls, counts: dict[str, dict[Key, FeedbackCounts]]) -> FeedbackFigures:
        def rates(by: str) -> dict[str, HelpfulRate]:
            return {str(key[-1] or "unknown"): HelpfulRate(c) for key, c in counts.get(by, {}).items()}

        return cls(
            overall=HelpfulRate(counts.get("all", {}).get((), FeedbackCounts())),
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

    @property
    def any_hidden(self) -> bool:
        rates = (self.overall, *self.by_model.values(), *self.by_prompt_version.values())
        return any(not rate.shown for rate in rates)

    def line(self) -> str:
        """The weekly report's line for one workspace."""
        parts = [f"• Reply feedback: {self.overall.text()}"]
        parts += [f"model `{name}` {rate.text()}" for name, rate in sorted(self.by_model.items())]
        parts += [f"prompt `{name}` {rate.text()}" for name, rate in sorted(self.by_prompt_version.items())]
        return " · ".join(parts)


def feedback_by_team_in(connection: Connection, start: datetime, end: datetime) -> dict[str, FeedbackFigures]:
    """Each workspace's helpful rate in [start, end), overall, per model and per prompt version."""
    f = reply_feedback
    overall = feedback_counts_in(connection, start, end, by=(f.c.team_id,))
    models = feedback_counts_in(connection, start, end, by=(f.c.team_id, f.c.model))
    prompts = feedback_counts_in(connection, start, end, by=(f.c.team_id, f.c.prompt_version))

    def of_team(team: Key, counts: dict[Key, FeedbackCounts]) -> dict[str, HelpfulRate]:
        return {str(key[1] or "unknown"): HelpfulRate(c) for key, c in counts.items() if key[0] == team[0]}

    return {
        str(team[0]): FeedbackFigures(
            overall=HelpfulRate(counts),
            by_model=of_team(team, models),
            by_prompt_version=of_team(team, prompts),
        )
        for team, counts in overall.items()
    }
