"""The app was removed from a workspace (or Grid org), or its bot token revoked: forget the install."""

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext


async def handle_app_uninstalled(context: AsyncBoltContext) -> None:
    await _uninstalled(context)


async def handle_tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
    if (event.get("tokens") or {}).get("bot"):  # a user token alone leaves the bot working
        await _uninstalled(context)


async def _uninstalled(context: AsyncBoltContext) -> None:
    installs = context.get("installs")
    if installs is None:  # single-token mode: nothing is stored per workspace
        return
    await installs.uninstalled(
        enterprise_id=context.enterprise_id,
        team_id=context.team_id,
        is_enterprise_install=bool(context.is_enterprise_install),
    )
