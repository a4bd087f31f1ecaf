"""``/coach export`` and the Home tab's **Export my data**: all of a coach's data in a workspace,
as a JSON file and a Markdown file, uploaded to their own DM with the bot.

The answer is at once ("Preparing your export…"); the export runs in the background. Its rows
stream from the database into two temporary files (``bot.export.writer``), which are uploaded
streamed from disk (``bot.delivery.streamed_upload``: files_upload_v2's flow, without reading
the files whole) to the DM ``conversations.open`` gives for the coach, then deleted. Whose data
is never read from a payload: it is the signed-in presser's (team, user), the key of every query;
a button pressed anywhere but the presser's own Home tab or DM with the bot is refused.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.attachments.listing import LINK_EXPIRY_SECONDS, FileListing
from bot.commands.coach import CoachRequest
from bot.delivery.background import BackgroundCalls
from bot.delivery.reply_message import SLACK_ERRORS, slack_error_name
from bot.delivery.streamed_upload import LocalFile, SharingWithdrawn, share_files
from bot.export.claims import ExportClaims
from bot.export.sections import FILES, SECTIONS, Row, Section
from bot.export.writer import ExportCounts, ExportWriter
from storage.export_rows import erasure_mark, erasure_under_way, export_reading, stream_rows
from storage.memory_records import Coach
from storage.models import utcnow

logger = logging.getLogger(__name__)

EXPORT_ACTION = "coach_data_export"
HELP_LINE = "a copy of all your data in this workspace, as JSON and Markdown files in our DM"
LINK_BATCH = 50

PREPARING = (
    "Preparing your export… I'll send it to our DM in a moment: a JSON file and a readable "
    "Markdown file with everything I keep about you in this workspace."
)
ALREADY_RUNNING = "Your export is already being prepared; it will arrive in our DM shortly."
FAILED = (
    "Sorry, I couldn't prepare your export just now; nothing was shared. Please try again in a few minutes."
)
WITHDRAWN = (
    "You deleted your data while your export was being prepared, so I didn't send it. "
    "`/coach export` makes a new one of whatever I keep from now on."
)
REFUSED = (
    "That button is for the person whose data it is. For a copy of yours, use `/coach export` "
    "or the button in my Home tab."
)

Notify = Callable[[str], Awaitable[Any]]


@dataclass(frozen=True)
class ExportedFiles:
    json_path: Path
    markdown_path: Path
    counts: ExportCounts
    # The coach's last erasure as the export's snapshot saw it: a different one later means a
    # delete ran meanwhile, and these files hold what it deleted.
    erased_as_of: datetime | None = None


class DataExport:
    """Builds and delivers exports, one at a time per coach: in this process by a set, across
    replicas by ``claims`` (a row in the database while an export runs)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        background: BackgroundCalls,
        listing: FileListing | None = None,
        sections: tuple[Section, ...] = SECTIONS,
        claims: ExportClaims | None = None,
    ) -> None:
        self._engine = engine
        self._claims = claims
        self._background = background
        self._listing = listing
        self._sections = sections
        self._running: set[Coach] = set()

    # ----------------------------------------------------------------- entry points

    async def subcommand(self, request: CoachRequest) -> None:
        """``/coach export``: answered ephemerally at once, delivered to the DM later."""
        coach = Coach(request.team_id, request.user_id)

        async def tell(text: str) -> None:
            await request.respond(response_type="ephemeral", text=text)

        await self._start(coach, request.client, acknowledge=tell)

    async def press(self, body: dict[str, Any], coach: Coach, client: AsyncWebClient, respond: Any) -> None:
        """The Export button: honoured in the presser's own Home tab (or a modal of theirs) or DM with
        the bot, else refused."""
        container = body.get("container") or {}
        dm = await self._dm_of(coach, client)
        if container.get("type") == "view":
            # Slack shows a Home tab, or a modal, only to the person it was published or opened for.
            where_ok = (body.get("view") or {}).get("type") in ("home", "modal")
        else:
            where_ok = dm is not None and container.get("channel_id") == dm
        if not where_ok:
            logger.info("Refused an export press outside the presser's Home or DM (team=%s)", coach.team_id)
            await self._say(respond, client, coach, dm, REFUSED)
            return

        async def tell(text: str) -> None:
            await self._say(respond, client, coach, dm, text)

        await self._start(coach, client, acknowledge=tell, dm=dm)

    # ----------------------------------------------------------------- the work

    async def _start(
        self, coach: Coach, client: AsyncWebClient, *, acknowledge: Notify, dm: str | None = None
    ) -> None:
        if coach in self._running:
            await acknowledge(ALREADY_RUNNING)
            return
        self._running.add(coach)
        try:
            claimed = await self._claim(coach)
        except BaseException:
            self._running.discard(coach)
            raise
        if not claimed:  # another replica is preparing it
            self._running.discard(coach)
            await acknowledge(ALREADY_RUNNING)
            return
        try:
            await acknowledge(PREPARING)
        except SLACK_ERRORS as error:  # the answer is a courtesy: the export still goes ahead
            logger.warning("Could not acknowledge an export (error=%s)", slack_error_name(error))
        except BaseException:
            await self._end(coach)
            raise
        self._background.spawn(self._run(coach, client, dm))

    async def _claim(self, coach: Coach) -> bool:
        """False when another replica's export of this coach is running; the database being away
        leaves only this process's guard (the export then says whether it worked)."""
        if self._claims is None:
            return True
        try:
            return await self._claims.claim(coach, utcnow())
        except Exception as error:
            logger.warning("Could not claim an export (error=%s)", type(error).__name__)
            return True

    async def _end(self, coach: Coach) -> None:
        """The export is over: the coach's next press starts a new one, on any replica."""
        if coach not in self._running:
            return
        self._running.discard(coach)
        if self._claims is not None:
            try:
                await self._claims.release(coach)
            except Exception as error:  # the claim goes stale and is taken over (STALE_AFTER)
                logger.warning("Could not release an export's claim (error=%s)", type(error).__name__)

    async def _run(self, coach: Coach, client: AsyncWebClient, dm: str | None) -> None:
        ended = False
        try:
            await self.deliver(coach, client, dm=dm)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # The class and Slack's error code only: never a response body or a row.
            logger.error("The data export failed (team=%s): %s", coach.team_id, slack_error_name(error))
            ended = True  # ended before they are told: their "Try again" starts a new one, and
            await self._end(coach)  # this one must not end that one
            await self._tell_failure(coach, client, dm)
        finally:
            if not ended:
                await self._end(coach)

    async def deliver(self, coach: Coach, client: AsyncWebClient, *, dm: str | None = None) -> dict[str, Any]:
        """Build both files, upload them to the coach's DM, delete them; Slack's completion answer.

        Never shared if the coach erased their data meanwhile (``WITHDRAWN`` is said instead, and
        ``{}`` returned): the files would hold what the delete removed.
        """
        channel = dm
        with tempfile.TemporaryDirectory(prefix="coachbot-export-") as directory:
            try:
                exported = await self.build(coach, Path(directory))
                channel = channel or await self._dm_of(coach, client, required=True)
                response = await self._share(coach, client, channel, exported)
            except SharingWithdrawn:
                logger.info(
                    "Data export withdrawn: the coach erased their data meanwhile (team=%s)", coach.team_id
                )
                channel = channel or await self._dm_of(coach, client, required=True)  # once per export
                await client.chat_postMessage(channel=channel, text=WITHDRAWN)
                return {}
        logger.info(
            "Data export delivered (team=%s, sections=%d, rows=%d)",
            coach.team_id,
            exported.counts.sections,
            exported.counts.rows,
        )
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _share(
        self, coach: Coach, client: AsyncWebClient, channel: str, exported: ExportedFiles
    ) -> AsyncSlackResponse:
        """The upload, unless an erasure was recorded since the export's snapshot: asked before the
        bytes go up, and again just before the one call that shares them."""

        async def still_wanted() -> bool:
            async with self._engine.connect() as connection:
                return await erasure_mark(connection, coach) == exported.erased_as_of

        if not await still_wanted():
            raise SharingWithdrawn("withdrawn before uploading")
        return await share_files(
            client,
            channel=channel,
            initial_comment=_done_text(exported),
            files=[
                LocalFile(exported.json_path, exported.json_path.name, "Your data (JSON)"),
                LocalFile(exported.markdown_path, exported.markdown_path.name, "Your data (Markdown)"),
            ],
            still_wanted=still_wanted,
        )

    async def build(self, coach: Coach, directory: Path) -> ExportedFiles:
        """Both files in ``directory``, streamed from one database snapshot; nothing held whole."""
        now = utcnow()
        writer = ExportWriter(directory, f"coachbot-data-{coach.team_id}-{now:%Y-%m-%d-%H%M}")
        try:
            writer.header(
                {
                    "format": 1,
                    "team_id": coach.team_id,
                    "user_id": coach.user_id,
                    "exported_at": now,
                    "file_links_expire_at": now + timedelta(seconds=LINK_EXPIRY_SECONDS),
                    "sections": [section.key for section in self._sections],
                },
                "Your coachbot data",
                f"Everything coachbot keeps about you in workspace `{coach.team_id}`, "
                f"as of {now:%Y-%m-%d %H:%M} UTC. File links work for {LINK_EXPIRY_SECONDS // 60} minutes.",
            )
            async with export_reading(self._engine) as connection:
                erased_as_of = await erasure_mark(connection, coach)  # first: it opens the snapshot
                if erased_as_of is not None and await erasure_under_way(connection, coach, erased_as_of):
                    raise SharingWithdrawn("a delete of the coach's data is under way")
                for section in self._sections:
                    rows = stream_rows(connection, section.rows(coach))
                    if section is FILES:
                        rows = self._with_links(rows, coach)
                    await writer.section(section, rows)
            writer.close()
        except BaseException:
            writer.abandon()
            raise
        return ExportedFiles(writer.json_path, writer.markdown_path, writer.counts, erased_as_of)

    async def _with_links(self, rows: AsyncIterator[Row], coach: Coach) -> AsyncIterator[Row]:
        """Each stored file with a fresh link (signed in batches), the storage key left out."""
        batch: list[Row] = []

        async def signed() -> list[Row]:
            keys = {r["id"]: r["storage_key"] for r in batch if r["status"] == "stored" and r["storage_key"]}
            links = await self._listing.signed_links(keys, for_user=coach.user_id) if self._listing else {}
            done = [
                {**{k: v for k, v in r.items() if k != "storage_key"}, "link": links.get(r["id"])}
                for r in batch
            ]
            batch.clear()
            return done

        async for row in rows:
            batch.append(row)
            if len(batch) >= LINK_BATCH:
                for done in await signed():
                    yield done
        for done in await signed():
            yield done

    # ----------------------------------------------------------------- Slack

    async def _dm_of(self, coach: Coach, client: AsyncWebClient, *, required: bool = False) -> str | None:
        """The bot's DM with the coach (conversations.open, im:write): the only place exports go."""
        try:
            opened = await client.conversations_open(users=coach.user_id)
        except SLACK_ERRORS as error:
            logger.warning("Could not open the coach's DM (error=%s)", slack_error_name(error))
            if required:
                raise
            return None
        channel = (opened.get("channel") or {}).get("id")
        if not channel and required:
            raise RuntimeError("conversations.open returned no channel")
        return str(channel) if channel else None

    async def _say(
        self, respond: Any, client: AsyncWebClient, coach: Coach, dm: str | None, text: str
    ) -> None:
        """An answer only the presser sees: through the press's response_url, else in their DM."""
        if respond is not None and getattr(respond, "response_url", None):
            await respond(response_type="ephemeral", replace_original=False, text=text)
        elif dm is not None:
            await client.chat_postEphemeral(channel=dm, user=coach.user_id, text=text)

    async def _tell_failure(self, coach: Coach, client: AsyncWebClient, dm: str | None) -> None:
        """The short human message in the coach's DM, with a button to try again."""
        try:
            channel = dm or await self._dm_of(coach, client, required=True)
            await client.chat_postMessage(channel=channel, text=FAILED, blocks=failure_blocks())
        except Exception as error:
            logger.warning("Could not tell the coach their export failed (%s)", type(error).__name__)


def failure_blocks() -> list[dict[str, Any]]:
    return [
        SectionBlock(text=MarkdownTextObject(text=FAILED)).to_dict(),
        ActionsBlock(
            block_id="data_export",
            elements=[ButtonElement(text="Try again", action_id=EXPORT_ACTION, value="")],
        ).to_dict(),
    ]


def _done_text(exported: ExportedFiles) -> str:
    return (
        f"Here is everything I keep about you in this workspace ({exported.counts.rows:,} items): "
        f"*{exported.json_path.name}* for machines and *{exported.markdown_path.name}* to read. "
        f"The links to your files in it work for {LINK_EXPIRY_SECONDS // 60} minutes; "
        "`/coach export` makes fresh ones."
    )
