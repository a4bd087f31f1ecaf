"""assistant.threads.setStatus, setTitle and setSuggestedPrompts, with their documented limits.

From the method pages: setStatus needs ``channel_id``, ``thread_ts`` and ``status`` (empty clears
it) and takes at most 10 ``loading_messages``; setSuggestedPrompts takes up to four prompts, each
with a ``title`` and a ``message``. In an agent app (manifest ``agent_view``), setSuggestedPrompts
with a ``thread_ts`` "silently fails": Slack answers ok and shows nothing. The emulator answers the
same and records the call as ineffective, so tests can see it (``suggested_prompts()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devkit.slack.arguments import json_list
from devkit.slack.core import EmulatorCore
from devkit.slack.records import SlackError

MAX_LOADING_MESSAGES = 10
MAX_SUGGESTED_PROMPTS = 4


@dataclass(frozen=True)
class SuggestedPrompts:
    """One accepted setSuggestedPrompts call; ``effective`` is False when Slack ignores it."""

    channel_id: str
    thread_ts: str | None
    title: str | None
    prompts: tuple[tuple[str, str], ...]  # (title, message)
    effective: bool


class AssistantMixin(EmulatorCore):
    """The assistant.threads.* methods the app calls."""

    agent_view: bool

    def _setup_assistant(self, *, agent_view: bool) -> None:
        self.agent_view = agent_view
        self._suggested_prompts: list[SuggestedPrompts] = []

    def suggested_prompts(self, *, effective: bool | None = None) -> list[SuggestedPrompts]:
        """Accepted setSuggestedPrompts calls in order (only effective or ineffective ones if given)."""
        with self._lock:
            found = list(self._suggested_prompts)
        return found if effective is None else [p for p in found if p.effective is effective]

    def _set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require_thread(args)
        if self.rules.argument_limits:
            if "status" not in args:
                raise SlackError("invalid_arguments", detail="status is required")
            loading = json_list(args.get("loading_messages")) or []
            if len(loading) > MAX_LOADING_MESSAGES:
                raise SlackError("invalid_arguments", detail="at most 10 loading_messages")
        return {}

    def _set_title(self, args: dict[str, Any]) -> dict[str, Any]:
        self._require_thread(args)
        if self.rules.argument_limits and not args.get("title"):
            raise SlackError("invalid_arguments", detail="title is required")
        return {}

    def _set_suggested_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel_id") or "")
        if not channel_id:
            raise SlackError("channel_not_found")
        prompts = [p for p in json_list(args.get("prompts")) or [] if isinstance(p, dict)]
        if self.rules.argument_limits:
            if not prompts or len(prompts) > MAX_SUGGESTED_PROMPTS:
                raise SlackError("invalid_arguments", detail="between 1 and 4 prompts")
            if any(not p.get("title") or not p.get("message") for p in prompts):
                raise SlackError("invalid_arguments", detail="each prompt needs a title and a message")
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        record = SuggestedPrompts(
            channel_id=channel_id,
            thread_ts=thread_ts,
            title=str(args["title"]) if args.get("title") else None,
            prompts=tuple((str(p.get("title", "")), str(p.get("message", ""))) for p in prompts),
            effective=not (self.agent_view and thread_ts is not None),
        )
        with self._lock:
            self._suggested_prompts.append(record)
        return {}

    @staticmethod
    def _require_thread(args: dict[str, Any]) -> None:
        if not args.get("channel_id"):
            raise SlackError("channel_not_found")
        if not args.get("thread_ts"):
            raise SlackError("invalid_thread_ts")
