"""What OpenAI refuses per model, for the devkit fake: each rule switchable off for a test.

From OpenAI's API reference and the error bodies its API returns:

- reasoning models (o1*, o3*, o4*, gpt-5*) refuse ``max_tokens`` ("Use 'max_completion_tokens'
  instead", ``unsupported_parameter``), sampling other than the default (``temperature`` /
  ``top_p`` other than 1, ``unsupported_value``), penalties and ``logprobs``;
- a reply limit over the model's most output tokens is refused ("max_tokens is too large");
- prompt + reply limit over the model's context window is refused (``context_length_exceeded``,
  the two wordings OpenAI and vLLM use), and a request without a limit stops at the window.

Tokens are counted approximately, never more leniently than a real tokenizer for ordinary text:
letters in runs of up to five, digits up to three, every punctuation mark one, and every
non-ASCII character (Chinese, Japanese, Korean, accents, emoji) at least one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import bpe_openai

#: Context window and most output tokens of OpenAI's models, by name prefix (most specific first).
DEFAULT_CONTEXT_WINDOWS: dict[str, tuple[int, int]] = {
    "gpt-5": (400_000, 128_000),
    "gpt-4.1": (1_047_576, 32_768),
    "gpt-4o": (128_000, 16_384),
    "gpt-4-turbo": (128_000, 4_096),
    "gpt-4": (8_192, 8_192),
    "gpt-3.5-turbo": (16_385, 4_096),
    "o1-mini": (128_000, 65_536),
    "o1": (200_000, 100_000),
    "o3": (200_000, 100_000),
    "o4-mini": (200_000, 100_000),
}
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

#: Chat framing per message, and for priming the reply (OpenAI's cookbook counts 3 and 3).
MESSAGE_TOKENS = 3
REPLY_PRIMING_TOKENS = 3
#: An image input, counted as a 1024x1024 "high detail" picture (85 + 4 tiles of 170).
IMAGE_TOKENS = 765


class RequestRefused(Exception):
    """A 400 with OpenAI's error body, raised by a rule."""

    def __init__(self, message: str, *, param: str | None, code: str | None) -> None:
        super().__init__(message)
        self.body = {
            "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        }


@dataclass
class ModelRules:
    """The per-model rules the fake enforces; switch one off (or edit the windows) for a test."""

    reasoning_parameters: bool = True
    context_windows: bool = True
    #: name prefix -> (context window, most output tokens); a model matching none has no limits.
    windows: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_CONTEXT_WINDOWS))

    def limits_for(self, model: str) -> tuple[int, int] | None:
        """(window, most output tokens) for ``model``: the longest matching prefix wins."""
        matches = [prefix for prefix in self.windows if model.startswith(prefix)]
        return self.windows[max(matches, key=len)] if matches else None

    def check(self, body: dict[str, Any], prompt: int) -> int | None:
        """Raise ``RequestRefused`` as OpenAI would; else the most reply tokens the model may write.

        ``prompt`` is ``count_prompt_tokens(body)``, counted once by the caller.
        """
        model = str(body.get("model") or "")
        if self.reasoning_parameters and is_reasoning_model(model):
            _check_reasoning_parameters(body)
        limits = self.limits_for(model) if self.context_windows else None
        param, limit = reply_limit(body)
        if limits is None:
            return limit
        window, most_output = limits
        if limit is not None and limit > most_output:
            raise RequestRefused(
                f"{param} is too large: {limit}. This model supports at most {most_output} completion "
                f"tokens, whereas you provided {limit}.",
                param=param,
                code=None,
            )
        if limit is not None and prompt + limit > window:
            raise RequestRefused(
                f"This model's maximum context length is {window} tokens. However, you requested "
                f"{prompt + limit} tokens ({prompt} in the messages, {limit} in the completion). "
                "Please reduce the length of the messages or completion.",
                param="messages",
                code="context_length_exceeded",
            )
        if prompt > window:
            raise RequestRefused(
                f"This model's maximum context length is {window} tokens. However, your messages "
                f"resulted in {prompt} tokens. Please reduce the length of the messages.",
                param="messages",
                code="context_length_exceeded",
            )
        room = min(window - prompt, most_output)
        return room if limit is None else min(limit, room)


def is_reasoning_model(model: str) -> bool:
    return model.startswith(REASONING_PREFIXES)


def reply_limit(body: dict[str, Any]) -> tuple[str, int | None]:
    """(the parameter that carries it, the reply limit) of a request; max_completion_tokens wins."""
    for param in ("max_completion_tokens", "max_tokens"):
        value = body.get(param)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RequestRefused(
                    f"Invalid '{param}': integer below minimum value. Expected a value >= 1, but got "
                    f"{value!r} instead.",
                    param=param,
                    code="integer_below_min_value",
                )
            return param, value
    return "max_completion_tokens", None


def count_tokens(text: str) -> int:
    """Tokens as OpenAI counts them (o200k_base, the vocabulary of GPT-4o and later), offline."""
    return len(_o200k().encode_ordinary(text)) if text else 0


@functools.lru_cache(maxsize=1)
def _o200k() -> Any:
    return bpe_openai.get_encoding("o200k_base")


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt's tokens as the window rule and ``usage.prompt_tokens`` count them."""
    messages = body.get("messages")
    total = REPLY_PRIMING_TOKENS
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        total += MESSAGE_TOKENS
        content = message.get("content")
        if isinstance(content, str):
            total += count_tokens(content)
            continue
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "image_url":
                total += IMAGE_TOKENS
            elif isinstance(part, dict):
                total += count_tokens(str(part.get("text", "")))
    return total


def _check_reasoning_parameters(body: dict[str, Any]) -> None:
    if body.get("max_tokens") is not None:
        raise RequestRefused(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )
    for param in ("temperature", "top_p"):
        value = body.get(param)
        if value is not None and value != 1:
            raise RequestRefused(
                f"Unsupported value: '{param}' does not support {value} with this model. "
                "Only the default (1) value is supported.",
                param=param,
                code="unsupported_value",
            )
    for param in ("presence_penalty", "frequency_penalty", "logprobs", "top_logprobs"):
        if body.get(param) not in (None, 0, False):
            raise RequestRefused(
                f"Unsupported parameter: '{param}' is not supported with this model.",
                param=param,
                code="unsupported_parameter",
            )
