"""Who pressed a button: the user and their workspace, as the payload names them.

The services check them against our tables (a session's coach, an item's owner); nothing else
in the payload (a value, a message) is trusted to say whose something is.
"""

from typing import Any

from bot.home.presses import Press, press_of, refuse
from storage.memory_records import Coach


def presser(body: dict[str, Any]) -> Coach:
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return Coach(str(team), str(user.get("id") or ""))


def action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


async def allowed_press(body: dict[str, Any], respond: Any, client: Any) -> Press | None:
    """The press, or None once it was refused (a press on someone else's App Home)."""
    press = press_of(body, presser(body), respond, client)
    if not press.allowed:
        await refuse(press)
        return None
    return press
