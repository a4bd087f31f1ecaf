"""What the emulator learns from the app's manifest.yml: its bot scopes, whether it is an agent, and
whether it has a Home tab.

By default the repository's own manifest, so the emulator grants exactly what an installed
coachbot would get; a test can pass other scopes or another manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPOSITORY_MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


@dataclass(frozen=True)
class AppManifest:
    """The parts of a Slack app manifest the emulator enforces."""

    bot_scopes: tuple[str, ...]
    agent_view: bool  # features.agent_view (the agent experience) rather than assistant_view
    home_tab: bool = False  # features.app_home.home_tab_enabled: Slack shows (and opens) a Home tab


def read_manifest(path: Path = REPOSITORY_MANIFEST) -> AppManifest | None:
    """The manifest at ``path``, or None when there is none (the emulator then grants every scope)."""
    if not path.is_file():
        return None
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    scopes = ((data.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
    features = data.get("features") or {}
    return AppManifest(
        bot_scopes=tuple(str(s) for s in scopes),
        agent_view="agent_view" in features,
        home_tab=bool((features.get("app_home") or {}).get("home_tab_enabled")),
    )
