"""Owed replies nobody is answering: every replica looks for them every few seconds.

A turn that dies with its process (SIGKILL, an OOM, a vanished node) stops renewing its
session's lease; a graceful shutdown hands its unfinished turns back at once. Either way the
session still owes its coach a reply, and any replica's sweep takes the lease over
(``TurnLeaseStore.take_over_abandoned``), closes the stream the dead turn left open, and answers,
saying it was restarted. The sweep runs at start-up too, so a lone replica that restarts answers
within one lease time plus one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from bot.conversation.coaching import CoachingService
from bot.conversation.turn_values import RESTARTED_LEAD_IN, CoachMessage, Surface
from bot.conversation.turns import TurnLeases
from bot.delivery.workspace_clients import WorkspaceClients
from storage.turn_leases import OwedTurn

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 20


class OwedReplyRecovery:
    """The sweep loop; one per process, started and stopped with the runtime."""

    def __init__(
        self, coaching: CoachingService, turns: TurnLeases, clients: WorkspaceClients, *, interval: float
    ) -> None:
        self._coaching = coaching
        self._turns = turns
        # Each owed reply is answered with its own workspace's client (no request brought one).
        self._clients = clients
        self._interval = interval
        self._rounds = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="owed-reply-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sweep(self) -> int:
        """Take over and start answering the abandoned owed replies; returns how many."""
        if not self._turns.accepting:
            return 0
        prefix = f"{self._turns.replica}:r{next(self._rounds)}:"
        taken = await self._turns.store.take_over_abandoned(
            prefix, seconds=self._turns.lease_seconds, limit=SWEEP_LIMIT
        )
        for owed in taken:
            logger.info("Answering an owed reply another turn left (session=%s)", owed.session_id)
            task = asyncio.create_task(self._answer(owed), name="owed-reply")
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        return len(taken)

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as error:  # the database may be away; the next sweep tries again
                logger.warning("Owed-reply sweep failed (error=%s)", type(error).__name__)
            await asyncio.sleep(self._interval)

    async def _answer(self, owed: OwedTurn) -> None:
        client = await self._clients.client_for(owed.key.team_id)
        if client is None:  # uninstalled since: nobody left to answer; the lease expires unused
            logger.info("No Slack client for an owed reply's workspace (session=%s)", owed.session_id)
            return
        message = CoachMessage(
            team_id=owed.key.team_id,
            channel_id=owed.key.channel_id,
            thread_ts=owed.key.thread_ts,
            ts=owed.key.thread_ts,
            user_id=owed.coach_id,
            text="",
            surface=_surface_of(owed.key.channel_id),
            starts_session=False,
        )
        async with self._turns.holding(
            owed.session_id, owed.lease_owner, owed.coach_seq, lead_in=RESTARTED_LEAD_IN
        ) as held:
            conversation = self._coaching.delivery.for_thread(
                client,
                channel_id=message.channel_id,
                thread_ts=message.thread_ts,
                team_id=message.team_id,
                user_id=message.user_id,
                surface=message.surface,
            )
            await self._coaching.answer_taken_over(message, held, owed.stale_stream_ts, conversation)


def _surface_of(channel_id: str) -> Surface:
    """Direct messages (and the agent panel, also a DM) start with D; the rest are channels."""
    return Surface.DIRECT_MESSAGE if channel_id.startswith("D") else Surface.CHANNEL
