"""views.open, views.update and views.publish: modals and the App Home tab, as their pages say.

From the method pages: no scope is needed (Tier 4); ``view`` is required. views.open exchanges a
``trigger_id`` (or ``interactivity_pointer``) that Slack gave the app with an interaction, once
(``exchanged_trigger_id``), within 3 seconds (``expired_trigger_id``); one Slack never issued is
``invalid_trigger_id``. views.update names the view by ``view_id`` or ``external_id`` and, with a
``hash``, refuses a view changed since (``hash_conflict``). views.publish needs ``user_id`` and a
``home`` view, and an app whose Home tab is off gets ``not_enabled``; a ``home`` view has no
``submit`` or ``close`` (those are a modal's). A view holds at most 100 blocks, each within
Block Kit's limits (``devkit.slack.blocks``), its title at most 24 characters, and a view over
250 kB is ``view_too_large``; ``external_id`` is unique in a team (``duplicate_external_id``).
Its blocks are held to Block Kit's limits for that surface (``devkit.slack.blocks``: no
``markdown`` or ``context_actions`` block outside messages): ``invalid_blocks`` otherwise.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from devkit.slack.blocks import block_problem
from devkit.slack.core import EmulatorCore
from devkit.slack.records import SlackError

TRIGGER_SECONDS = 3.0
MAX_VIEW_BLOCKS = 100
MAX_TITLE_CHARS = 24
MAX_VIEW_BYTES = 250 * 1024
MAX_CALLBACK_ID_CHARS = 255
MAX_PRIVATE_METADATA_CHARS = 3000


class ViewsMixin(EmulatorCore):
    """Triggers the emulator hands out with interactions, and the views the app opened or published."""

    def _setup_views(self) -> None:
        self._triggers: dict[str, float] = {}  # trigger_id -> emulator clock when issued
        self._views: dict[str, dict[str, Any]] = {}  # view id -> the view as Slack answers it
        self._home_views: dict[str, str] = {}  # user id -> view id of their App Home

    def issue_trigger(self) -> str:
        """A fresh trigger_id, as Slack puts in a slash command or block_actions payload."""
        trigger = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger] = self._clock()
        return trigger

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._views.get(view_id)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for ``user_id`` (what ``app_home_opened`` carries)."""
        with self._lock:
            view_id = self._home_views.get(user_id)
            return self._views.get(view_id) if view_id else None

    # ----------------------------------------------------------------- methods

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._view_argument(args, "modal")
        self._exchange_trigger(str(args.get("trigger_id") or args.get("interactivity_pointer") or ""))
        return {"view": self._store_view(view)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        current = self._existing_view(args)
        view = self._view_argument(args, current["type"])
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return {"view": self._store_view(view, replacing=current)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user_id") or "")
        if not user_id:
            raise SlackError("invalid_arguments", detail="user_id is required")
        view = self._view_argument(args, "home")
        if not getattr(self, "home_tab_enabled", True):
            raise SlackError("not_enabled")
        with self._lock:
            current = self._views.get(self._home_views.get(user_id, ""))
        if current is not None and args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(view, replacing=current)
        with self._lock:
            self._home_views[user_id] = stored["id"]
        return {"view": stored}

    # ----------------------------------------------------------------- checks

    def _view_argument(self, args: dict[str, Any], kind: str) -> dict[str, Any]:
        raw = args.get("view")
        if raw is None or raw == "":
            raise SlackError("invalid_arguments", detail="view is required")
        try:
            view = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise SlackError("invalid_arguments", detail="view must be JSON") from exc
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", detail="view must be an object")
        if not self.rules.argument_limits:
            return view
        if len(json.dumps(view).encode("utf-8")) > MAX_VIEW_BYTES:
            raise SlackError("view_too_large")
        if view.get("type") != kind:
            raise SlackError("invalid_arguments", detail=f"view.type must be {kind}")
        blocks = view.get("blocks")
        if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_arguments", detail="view.blocks: a list of at most 100 blocks")
        problem = block_problem(blocks, surface=kind)
        if problem is not None:  # views answer invalid_arguments, as their method pages say
            raise SlackError("invalid_arguments", detail=f"view.{problem}")
        if kind == "home" and (view.get("submit") or view.get("close")):
            raise SlackError("invalid_arguments", detail="a home view has no submit or close")
        if len(str(view.get("callback_id") or "")) > MAX_CALLBACK_ID_CHARS:
            raise SlackError("invalid_arguments", detail="view.callback_id: at most 255 characters")
        if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA_CHARS:
            raise SlackError("invalid_arguments", detail="view.private_metadata: at most 3,000 characters")
        if kind == "modal":
            for key in ("title", "submit", "close"):
                text = view.get(key)
                if text is None and key != "title":
                    continue
                if not isinstance(text, dict) or text.get("type") != "plain_text":
                    raise SlackError("invalid_arguments", detail=f"view.{key} must be a plain_text object")
                if not text.get("text") or len(str(text["text"])) > MAX_TITLE_CHARS:
                    raise SlackError("invalid_arguments", detail=f"view.{key}: 1 to 24 characters")
            if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and not view.get(
                "submit"
            ):
                raise SlackError("invalid_arguments", detail="a modal with inputs needs submit")
        return view

    def _exchange_trigger(self, trigger: str) -> None:
        if not trigger:
            raise SlackError("invalid_arguments", detail="trigger_id or interactivity_pointer is required")
        with self._lock:
            issued = self._triggers.get(trigger)
            if issued is None:
                raise SlackError("invalid_trigger_id")
            if issued < 0:
                raise SlackError("exchanged_trigger_id")
            if self._clock() - issued > TRIGGER_SECONDS:
                raise SlackError("expired_trigger_id")
            self._triggers[trigger] = -1.0

    def _existing_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", detail="view_id or external_id is required")
        with self._lock:
            if view_id:
                found = self._views.get(str(view_id))
            else:
                found = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if found is None:
            raise SlackError("not_found")
        return found

    def _store_view(self, view: dict[str, Any], replacing: dict[str, Any] | None = None) -> dict[str, Any]:
        external_id = view.get("external_id")
        with self._lock:
            if external_id and any(
                v.get("external_id") == external_id and v is not replacing for v in self._views.values()
            ):
                raise SlackError("duplicate_external_id")
            view_id = replacing["id"] if replacing else f"V{secrets.token_hex(5).upper()}"
            stored = {
                "id": view_id,
                "team_id": self.calling_team,
                "app_id": self.app_id,
                "bot_id": self.bot_id,
                "private_metadata": "",
                "callback_id": "",
                "external_id": "",
                "state": {"values": {}},
                **view,
                "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
                "root_view_id": (replacing or {}).get("root_view_id", view_id),
            }
            self._views[view_id] = stored
        return stored
