"""Acting as a person pressing a Block Kit button: the signed ``block_actions`` request Slack sends.

Only a button that is really in the message can be pressed (found by its ``action_id`` in the
message's ``actions`` blocks), so a test cannot press what Slack would never have shown. The
payload carries a ``response_url`` served by the emulator (``response_url_posts`` shows what the
app sent there).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode

from devkit import payloads
from devkit.slack.records import Delivery
from devkit.slack.sender import EventSenderMixin


class ButtonsMixin(EventSenderMixin):
    """``press_button``: the interactivity request of one button press."""

    def find_button(self, channel: str, ts: str, action_id: str) -> tuple[str, dict[str, Any]]:
        """(block_id, element) of the button ``action_id`` in the message; AssertionError if absent."""
        with self._lock:
            message = self._store.get(channel, ts)
            blocks = list(message.blocks or []) if message is not None else []
        if message is None:
            raise AssertionError(f"no message {ts} in {channel}")
        for block in blocks:
            for element in block.get("elements") or () if block.get("type") == "actions" else ():
                if element.get("type") == "button" and element.get("action_id") == action_id:
                    return str(block.get("block_id") or ""), element
        raise AssertionError(f"message {ts} in {channel} has no button {action_id!r}")

    def press_button(
        self,
        url: str,
        *,
        channel: str,
        ts: str,
        action_id: str,
        user: str = "U0COACH",
        team_id: str | None = None,
        timeout: float = 10,
    ) -> Delivery:
        """POST the signed ``block_actions`` request of ``user`` pressing ``action_id`` in a message."""
        block_id, element = self.find_button(channel, ts, action_id)
        with self._lock:
            stored = self._store.get(channel, ts)
            assert stored is not None
            message = stored.to_slack()
        response_id = f"{next(self._response_ids)}-{secrets.token_hex(4)}"
        payload = payloads.block_actions(
            user_id=user,
            user_name=str(self.users.get(user, {}).get("name", user.lower())),
            team_id=team_id or self.team_id,
            channel_id=channel,
            message=message,
            block_id=block_id,
            action=element,
            response_url=f"{self.origin}/response_url/{response_id}",
            team_domain=self.team_domain,
            api_app_id=self.app_id,
        )
        body = urlencode({"payload": json.dumps(payload)}).encode("ascii")
        return self.post_signed(url, body, "application/x-www-form-urlencoded", timeout=timeout)
