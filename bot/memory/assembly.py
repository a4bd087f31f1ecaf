"""Memory's objects, built once per process at assembly (``bot.assembly.app``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.assembly.config import Settings
from bot.conversation.llm import CoachModel
from bot.memory.commands import MemoryCommands
from bot.memory.context import MemoryContext
from bot.memory.extraction import MemoryExtractor
from bot.memory.service import MemoryService
from bot.memory.wrap_up import WrapUps
from storage.caches import CountingTTLCache
from storage.conversations import ConversationStore
from storage.memory import MemoryStore


def build_memory(
    settings: Settings,
    engine: AsyncEngine,
    store: ConversationStore,
    model: CoachModel,
    *,
    cache: CountingTTLCache[Any, Any] | None = None,
) -> tuple[MemoryService, MemoryCommands]:
    """The memory service and its ``/coach`` subcommands, sharing the conversation store's SQLite writer."""
    memory_store = MemoryStore(engine, sqlite_writer=store.sqlite_writer)
    context = MemoryContext(memory_store, cache=cache)
    extractor = MemoryExtractor(model, token_budget=settings.context_token_budget)
    service = MemoryService(
        WrapUps(memory_store, extractor, context), context, memory_share=settings.memory_share
    )
    return service, MemoryCommands(service)
