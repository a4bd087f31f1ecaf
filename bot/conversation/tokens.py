"""Counting tokens as OpenAI's models do, offline: o200k_base (GPT-4o, GPT-4.1, o-series, GPT-5).

``bpe-openai`` ships the vocabulary inside its wheel, so nothing is downloaded at run time
(tiktoken fetches its files from the network on first use, which fails without internet). A
turn counts the same history messages again at every turn, so counts are cached by text: only
a new message is tokenized (about 3 µs for a short one, 30 µs for 750 characters).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import bpe_openai

ENCODING = "o200k_base"
#: Distinct message texts whose counts are kept (a few MB at most); the newest turns' stay hot.
COUNT_CACHE_SIZE = 50_000


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The o200k_base encoding, loaded once (about 0.1 s; ``warm`` does it at start-up)."""
    return bpe_openai.get_encoding(ENCODING)


@lru_cache(maxsize=COUNT_CACHE_SIZE)
def count_tokens(text: str) -> int:
    """The tokens ``text`` is to the model; special-token strings in it count as plain text."""
    return len(encoding().encode_ordinary(text)) if text else 0


def last_tokens(text: str, tokens: int) -> str:
    """The end of ``text`` that is at most ``tokens`` tokens (a character split by the cut is dropped)."""
    return _within(text, tokens, keep_end=True)


def first_tokens(text: str, tokens: int) -> str:
    """The start of ``text`` that is at most ``tokens`` tokens (a character split by the cut is dropped)."""
    return _within(text, tokens, keep_end=False)


def _within(text: str, tokens: int, *, keep_end: bool) -> str:
    if tokens <= 0:
        return ""
    ids = encoding().encode_ordinary(text)
    if len(ids) <= tokens:
        return text
    kept: bytes = encoding().decode_bytes(ids[-tokens:] if keep_end else ids[:tokens])
    return kept.decode("utf-8", "ignore")


def warm() -> None:
    """Load the vocabulary now, so the first coach's turn doesn't pay for it."""
    count_tokens.cache_clear()
    count_tokens("warm")
