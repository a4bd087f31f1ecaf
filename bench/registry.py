"""Every scenario ``python -m bench`` can run, and how long each may take."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.harness import Harness, ScenarioResult
from bench.home import home
from bench.scenarios import acks, burst, floor, load, turn
from bench.workspace import workspace


@dataclass(frozen=True)
class Scenario:
    run: Callable[[Harness], Awaitable[ScenarioResult]]
    budget_s: Callable[[bool], float]  # the longest it may take, quick or not
    slack_limits: bool = False  # needs the emulator to enforce Slack's rate tiers


SCENARIOS: dict[str, Scenario] = {
    "turn": Scenario(turn, lambda quick: 180.0, slack_limits=True),
    "burst": Scenario(burst, lambda quick: 150.0, slack_limits=True),
    "acks": Scenario(acks, lambda quick: 150.0 if quick else 200.0),
    "floor": Scenario(floor, lambda quick: 240.0),
    "load_100": Scenario(functools.partial(load, coaches=100), lambda quick: 90.0 if quick else 120.0),
    "load_1000": Scenario(functools.partial(load, coaches=1000), lambda quick: 120.0 if quick else 150.0),
    "workspace_200": Scenario(workspace, lambda quick: 120.0 if quick else 200.0, slack_limits=True),
    "home": Scenario(home, lambda quick: 60.0 if quick else 120.0),
}
#: The default set. turn and burst need Slack's tiers on, so the whole run has them unless
#: ``--slack-limits off`` asks for the lenient Slack (acks, load_* and floor were measured so).
DEFAULT_SCENARIOS = ("turn", "burst", "acks", "load_100", "load_1000", "floor")
