"""Sizing a request for the configured model: which parameter carries the reply limit, and the window.

OpenAI's reasoning models (o1, o3, o4, gpt-5) refuse ``max_tokens`` and take
``max_completion_tokens``; other OpenAI-compatible servers often know only ``max_tokens``. A
server also refuses a request whose prompt plus reply limit exceed the model's context window
(vLLM's 8k/16k models, ``context_length_exceeded``), so the prompt budget and the reply limit
are fitted to the window, with headroom because our token count is an estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"
TOKEN_PARAMETERS = ("auto", MAX_TOKENS, MAX_COMPLETION_TOKENS)

#: The prompt's estimate is raised by this factor when fitting it to a window: short words,
#: digits and punctuation run below the estimate's four characters a token.
ESTIMATE_HEADROOM = 1.25
#: At most this share of a window is kept for the reply when the prompt budget is fitted.
REPLY_SHARE = 4

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

#: (name prefix, context window, most output tokens), most specific first; from OpenAI's model pages.
_KNOWN_MODELS: tuple[tuple[str, int, int], ...] = (
    ("gpt-5", 400_000, 128_000),
    ("gpt-4.1", 1_047_576, 32_768),
    ("gpt-4.5", 128_000, 16_384),
    ("gpt-4o", 128_000, 16_384),
    ("gpt-4-turbo", 128_000, 4_096),
    ("gpt-4", 8_192, 8_192),
    ("gpt-3.5-turbo", 16_385, 4_096),
    ("o1-mini", 128_000, 65_536),
    ("o1-preview", 128_000, 32_768),
    ("o1", 200_000, 100_000),
    ("o3", 200_000, 100_000),
    ("o4", 200_000, 100_000),
)


def is_reasoning_model(model: str) -> bool:
    """o1*, o3*, o4* and gpt-5* take ``max_completion_tokens`` and only the default sampling."""
    return _name(model).startswith(_REASONING_PREFIXES)


def known_limits(model: str) -> tuple[int | None, int | None]:
    """(context window, most output tokens) of a known OpenAI model; (None, None) otherwise."""
    name = _name(model)
    for prefix, window, output in _KNOWN_MODELS:
        if name.startswith(prefix):
            return window, output
    return None, None


@dataclass(frozen=True)
class ModelFit:
    """The reply-limit parameter and the window one model's requests are sized for."""

    token_parameter: str
    max_tokens: int
    context_window: int | None = None
    max_output_tokens: int | None = None

    @classmethod
    def for_model(
        cls, model: str, *, max_tokens: int, token_parameter: str = "auto", context_window: int | None = None
    ) -> ModelFit:
        """``token_parameter="auto"`` and ``context_window=None`` go by the model's name."""
        known_window, known_output = known_limits(model)
        if token_parameter == "auto":
            token_parameter = MAX_COMPLETION_TOKENS if is_reasoning_model(model) else MAX_TOKENS
        return cls(token_parameter, max_tokens, context_window or known_window, known_output)

    @property
    def reply_tokens(self) -> int:
        """The reply limit before fitting: OPENAI_MAX_TOKENS within what the model can write."""
        return min(self.max_tokens, self.max_output_tokens or self.max_tokens)

    def prompt_budget(self, token_budget: int) -> int:
        """CONTEXT_TOKEN_BUDGET, shrunk so the prompt leaves the reply its share of the window."""
        if self.context_window is None:
            return token_budget
        reserve = min(self.reply_tokens, self.context_window // REPLY_SHARE)
        return max(0, min(token_budget, int((self.context_window - reserve) / ESTIMATE_HEADROOM)))

    def reply_limit(self, prompt_tokens: int) -> int:
        """The reply's token limit for a prompt of ``prompt_tokens`` (estimated), within the window."""
        if self.context_window is None:
            return self.reply_tokens
        room = self.context_window - math.ceil(prompt_tokens * ESTIMATE_HEADROOM)
        return max(1, min(self.reply_tokens, room))


def _name(model: str) -> str:
    """``openai/gpt-4o`` and ``GPT-4o`` name the same model as ``gpt-4o``."""
    return model.strip().lower().rsplit("/", 1)[-1]
