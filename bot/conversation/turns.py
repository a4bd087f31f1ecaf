"""One turn at a time per session, across replicas: this process's turn leases.

The coach's message is stored with a count of replies owed and, when no live turn holds the
session, a lease for the turn that answers it (``ConversationStore.record_user_message``). A
message that finds the lease taken is only stored: the holder answers it when its reply ends,
with that whole reply in the history. While a turn holds a lease it renews it every
``lease_seconds / 4`` seconds and records the Slack message it is streaming, so a replica taking
over after a crash can close that stream. The reply, the messages it answered and the lease's
fate are one write (``TurnLeaseStore.finish``): nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.delivery.streaming import SlackReplyWriter
from storage.turn_leases import Finished, ReplyToStore, TurnLeaseStore

logger = logging.getLogger(__name__)

#: Pauses between attempts at a turn's final write while the database is away (~8 s in all).
FINISH_RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0, 4.0)
#: How often a held lease looks for a newly opened Slack stream to record (no query unless one opened).
STREAM_WATCH_SECONDS = 0.2


def replica_name() -> str:
    """This process, in lease owner ids: host, pid and a random part (pids repeat after restarts)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class HeldLease:
    """This process's hold on one session: what its reply answers, and the stream it writes."""

    session_id: int
    owner: str
    covered_seq: int
    # Written ahead of the reply when the turn takes over from one that died.
    lead_in: str = ""
    writer: SlackReplyWriter | None = None
    finished: Finished | None = None
    # Set once the lease is given up: the renewal stops (and never renews what is no longer ours).
    released: bool = False
    _heartbeat: asyncio.Task[None] | None = field(default=None, repr=False)
    # A renewal and the final write never cross: renewing after the release would find no lease.
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def open_stream_ts(self) -> str | None:
        return self.writer.open_message_ts if self.writer is not None else None


class TurnLeases:
    """Owner ids, renewal and hand-back of the leases this process holds."""

    def __init__(self, store: TurnLeaseStore, *, lease_seconds: float, replica: str | None = None) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.replica = replica or replica_name()
        # False once shutting down: messages are still stored (and owed), but no new turn starts.
        self.accepting = True
        self._ids = itertools.count(1)
        self.held: dict[int, HeldLease] = {}

    def new_owner(self) -> str | None:
        """A lease owner id for one turn, or None when shutting down (store the message only)."""
        return f"{self.replica}:{next(self._ids)}" if self.accepting else None

    @contextlib.asynccontextmanager
    async def holding(
        self, session_id: int, owner: str, covered_seq: int, *, lead_in: str = ""
    ) -> AsyncIterator[HeldLease]:
        """Hold the lease while the block answers; hand it back if the block is cancelled.

        A turn that fails with an exception has told the coach so (``CoachingService``): its
        messages count as answered. A cancelled one (shutdown past its grace) is handed to
        whoever takes over, with its open stream recorded so that one can close it.
        """
        held = HeldLease(session_id, owner, covered_seq, lead_in=lead_in)
        self.held[session_id] = held
        held._heartbeat = asyncio.create_task(self._renew_while_held(held), name="turn-lease-renewal")
        try:
            yield held
        except asyncio.CancelledError:
            held._heartbeat.cancel()
            with contextlib.suppress(Exception):
                stream_ts = held.open_stream_ts
                if stream_ts is not None:
                    await self.store.renew(session_id, owner, seconds=self.lease_seconds, stream_ts=stream_ts)
                await self.store.release(session_id, owner)
            raise
        except Exception:
            held._heartbeat.cancel()
            await self._settle_quietly(held)
            raise
        finally:
            held._heartbeat.cancel()
            if self.held.get(session_id) is held:
                del self.held[session_id]

    async def finish(self, held: HeldLease, reply: ReplyToStore | None) -> Finished:
        """Store the reply (if any) and mark what it answered, in one write (``TurnLeaseStore.finish``)."""
        async with held._writing:
            finished = await self._finish_retrying(held, reply)
            held.released = not finished.lease_kept
        if finished.lease_lost:
            logger.warning("A turn's lease was taken over before it finished (session=%s)", held.session_id)
        held.finished = finished
        return finished

    async def _finish_retrying(self, held: HeldLease, reply: ReplyToStore | None) -> Finished:
        """The final write, retried while the database is briefly away (a failover, a restart).

        Safe to repeat: the reply is inserted ``ON CONFLICT DO NOTHING`` on its Slack ts and the
        counts only move forward. Giving up leaves the lease to run out, and the reply to be
        answered again by whoever takes it over: better twice than never.
        """
        pauses = iter(FINISH_RETRY_PAUSES)
        while True:
            try:
                return await self.store.finish(
                    held.session_id,
                    held.owner,
                    covered_seq=held.covered_seq,
                    reply=reply,
                    keep=self.accepting,
                )
            except (DBAPIError, OSError) as error:
                pause = next(pauses, None)
                if pause is None or not _connection_lost(error):
                    raise
                logger.warning(
                    "Storing a reply failed; retrying (session=%s, error=%s)",
                    held.session_id,
                    type(getattr(error, "orig", None) or error).__name__,
                )
                await asyncio.sleep(pause)

    async def next_round(self, held: HeldLease) -> bool:
        """After a reply: True when messages arrived meanwhile and this turn, still holding, answers them."""
        finished = held.finished
        held.finished = None
        held.writer = None
        if finished is None:
            try:
                finished = await self.finish(held, None)
            except Exception as error:  # the coach has had their answer; the lease runs out on its own
                logger.warning(
                    "Could not mark a turn answered (session=%s, error=%s)",
                    held.session_id,
                    type(error).__name__,
                )
                return False
        return finished.more_owed

    def watch(self, held: HeldLease, writer: SlackReplyWriter) -> None:
        """Record ``writer``'s stream with the lease as soon as it opens."""
        held.writer = writer

    async def _settle_quietly(self, held: HeldLease) -> None:
        if held.finished is not None:
            return
        try:
            await self.finish(held, None)
        except Exception as error:  # the lease expires on its own; recovery answers again
            logger.warning(
                "Could not mark a failed turn answered (session=%s, error=%s)",
                held.session_id,
                type(error).__name__,
            )

    async def _renew_while_held(self, held: HeldLease) -> None:
        loop = asyncio.get_running_loop()
        renew_every = self.lease_seconds / 4
        recorded_stream: str | None = None
        last_renewed = loop.time()
        while True:
            await asyncio.sleep(min(STREAM_WATCH_SECONDS, renew_every))
            stream_ts = held.open_stream_ts
            if stream_ts == recorded_stream and loop.time() - last_renewed < renew_every:
                continue
            try:
                async with held._writing:
                    if held.released:
                        return
                    mine = await self.store.renew(
                        held.session_id, held.owner, seconds=self.lease_seconds, stream_ts=stream_ts
                    )
            except Exception as error:  # try again next time; the lease outlives a few misses
                logger.warning(
                    "Could not renew a turn lease (session=%s, error=%s)",
                    held.session_id,
                    type(error).__name__,
                )
                continue
            if not mine:
                logger.warning("A turn lost its lease (session=%s)", held.session_id)
                return
            recorded_stream, last_renewed = stream_ts, loop.time()


#: SQLSTATE classes of a server going away or not yet back: 08 connection exception, 57 operator
#: intervention (57P01 admin shutdown, 57P03 "the database system is starting up").
_SERVER_AWAY_SQLSTATE_CLASSES = ("08", "57")


def _connection_lost(error: BaseException) -> bool:
    """The database went away (worth a retry), as opposed to a statement it refused."""
    if isinstance(error, OSError | OperationalError | InterfaceError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
    return error.connection_invalidated or sqlstate[:2] in _SERVER_AWAY_SQLSTATE_CLASSES
