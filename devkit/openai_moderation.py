"""The fake's ``POST /v1/moderations``: OpenAI's moderation endpoint, scriptable per test.

As strict as the API reference: ``input`` is required and is a string, an array of strings, or an
array of multi-modal parts (``{"type": "text", "text"}`` / ``{"type": "image_url", "image_url":
{"url"}}``, images only with an ``omni-moderation`` model); ``model`` is optional and one of the
moderation models. The answer has one result per input, with every category of
``omni-moderation-latest``, its scores and (omni) the input types each category applied to.
Nothing is flagged unless a test says so (``flag_next``), or the input holds a word given to
``flag_words``.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MODERATION_MODELS = (
    "omni-moderation-latest",
    "omni-moderation-2024-09-26",
    "text-moderation-latest",
    "text-moderation-stable",
)
DEFAULT_MODEL = "omni-moderation-latest"
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
#: The categories a text-only input applies to; image input adds these (OpenAI's guide).
_IMAGE_CATEGORIES = frozenset(
    {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}
)


class ModerationRefused(ValueError):
    """The request breaks the API reference; the message is OpenAI's wording for it."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.body = {
            "error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}
        }


@dataclass
class Moderations:
    """What the fake's moderation endpoint flags, and the requests it got."""

    #: Off: the endpoint answers 404, as a server without it does (vLLM, most proxies).
    available: bool = True
    #: Seconds before each answer, to let a test's model reply arrive first.
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    _flags: deque[tuple[str, ...]] = field(default_factory=deque)
    _words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def flag_next(self, *categories: str) -> None:
        """Flag the next moderation request's inputs in ``categories`` (FIFO, one request each)."""
        _check_categories(categories)
        with self._lock:
            self._flags.append(categories)

    def flag_words(self, word: str, *categories: str) -> None:
        """Flag, in ``categories``, any input that contains ``word`` (case-insensitive)."""
        _check_categories(categories)
        with self._lock:
            self._words[word.lower()] = categories

    def reset(self) -> None:
        with self._lock:
            self._flags.clear()
            self._words.clear()
            self.requests.clear()
            self.available = True
            self.delay = 0.0

    def answer(self, body: Any) -> dict[str, Any]:
        """The response body for a request ``body``; raises ModerationRefused for an invalid one."""
        inputs, model = _validate(body)
        with self._lock:
            self.requests.append(body)
            scripted = self._flags.popleft() if self._flags else ()
            words = dict(self._words)
            number = next(self._ids)
        results = []
        for kinds, text in inputs:
            flagged = set(scripted)
            for word, categories in words.items():
                if word in text.lower():
                    flagged.update(categories)
            results.append(_result(flagged, kinds, omni=model.startswith("omni")))
        return {"id": f"modr-devkit{number:06d}", "model": model, "results": results}


def _check_categories(categories: tuple[str, ...]) -> None:
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown or not categories:
        raise ValueError(f"moderation categories are {CATEGORIES}, got {categories!r}")


def _validate(body: Any) -> tuple[list[tuple[frozenset[str], str]], str]:
    """([(input types, text)] per result, model); multi-modal parts make one result together."""
    if not isinstance(body, dict) or "input" not in body:
        raise ModerationRefused("'input' is a required property", "input")
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or model not in MODERATION_MODELS:
        raise ModerationRefused(f"Invalid value for 'model': {model!r}.", "model")
    unknown = sorted(set(body) - {"input", "model"})
    if unknown:
        raise ModerationRefused(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])
    given = body["input"]
    if isinstance(given, str):
        return [(frozenset({"text"}), given)], model
    if not isinstance(given, list) or not given:
        raise ModerationRefused("Invalid value for 'input': expected a string or a non-empty array.", "input")
    if all(isinstance(item, str) for item in given):
        return [(frozenset({"text"}), item) for item in given], model
    kinds: set[str] = set()
    texts = []
    for part in given:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            kinds.add("text")
            texts.append(part["text"])
        elif kind == "image_url" and isinstance((part.get("image_url") or {}).get("url"), str):
            if not model.startswith("omni"):
                raise ModerationRefused(f"Model {model} does not support image input.", "input")
            kinds.add("image")
        else:
            raise ModerationRefused(
                "Invalid value for 'input': each part is a text or an image_url.", "input"
            )
    return [(frozenset(kinds), "\n".join(texts))], model


def _result(flagged: set[str], kinds: frozenset[str], *, omni: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in CATEGORIES},
        "category_scores": {name: 0.97 if name in flagged else 0.0001 for name in CATEGORIES},
    }
    if omni:
        result["category_applied_input_types"] = {
            name: sorted(kind for kind in kinds if kind == "text" or name in _IMAGE_CATEGORIES)
            for name in CATEGORIES
        }
    return result
