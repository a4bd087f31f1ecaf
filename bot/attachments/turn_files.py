"""The session's files in a turn's prompt: excerpts that match the message, and this turn's images.

A failure to read files never costs the coach the reply: the turn answers without them.
"""

from __future__ import annotations

import asyncio
import logging

from bot.attachments.reading import AttachmentReader, StoredFile
from bot.conversation.prompt import ImageInput, Reference
from bot.conversation.turn_values import CoachMessage
from storage.conversations import RecordedMessage

logger = logging.getLogger(__name__)


async def file_context(
    reader: AttachmentReader | None,
    message: CoachMessage,
    recorded: RecordedMessage,
    turn_files: tuple[StoredFile, ...],
    *,
    excerpt_budget: int,
    takes_images: bool,
) -> tuple[list[Reference], list[ImageInput]]:
    """Excerpts and images for the prompt; at once, without yielding, for a session without files."""
    if reader is None or (recorded.attachment_count <= 0 and not turn_files):
        return [], []
    references, images = await asyncio.gather(
        session_references(reader, message, recorded, has_new_files=bool(turn_files), budget=excerpt_budget),
        turn_images(reader, recorded, turn_files, takes_images=takes_images),
    )
    return references, images


async def session_references(
    reader: AttachmentReader | None,
    message: CoachMessage,
    recorded: RecordedMessage,
    *,
    has_new_files: bool,
    budget: int,
) -> list[Reference]:
    """Excerpts of the session's files for this message, within ``budget`` tokens.

    Only sessions with stored files ask (the count comes with the turn's own write), so a
    session without files pays no query.
    """
    if reader is None or (recorded.attachment_count <= 0 and not has_new_files):
        return []
    try:
        return await reader.context_for(recorded.session_id, message.text, budget)
    except Exception as error:  # the reply matters more than the excerpts: answer without them
        logger.warning(
            "Could not search the session's files (session=%s, error=%s)",
            recorded.session_id,
            type(error).__name__,
        )
        return []


async def turn_images(
    reader: AttachmentReader | None,
    recorded: RecordedMessage,
    files: tuple[StoredFile, ...],
    *,
    takes_images: bool,
) -> list[ImageInput]:
    """This turn's images as image input, when the configured model takes images."""
    if reader is None or not files or not takes_images:
        return []
    try:
        return await reader.images_for(files)
    except Exception as error:  # answer the words even if the pictures cannot come along
        logger.warning(
            "Could not read this turn's images (session=%s, error=%s)",
            recorded.session_id,
            type(error).__name__,
        )
        return []
