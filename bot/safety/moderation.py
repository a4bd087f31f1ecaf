"""OpenAI's moderation endpoint, asked about each coach message alongside the model call.

``POST /v1/moderations`` with ``omni-moderation-latest`` classifies the text; the turn cares
only about self-harm (``self-harm``, ``self-harm/intent``, ``self-harm/instructions``) and
violence (``violence``, ``violence/graphic``). A server without the endpoint (404: vLLM, most
proxies) turns the check off for the process with one log line; any other failure lets the
turn coach as usual (the check is a safety net, not a gate). Nothing here logs the text or the
verdict: a coach's crisis is theirs.
"""

from __future__ import annotations

import logging

import openai

MODERATION_MODEL = "omni-moderation-latest"
CRISIS_CATEGORIES = (
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "violence",
    "violence/graphic",
)
MODERATION_MODES = ("auto", "off")

logger = logging.getLogger(__name__)


class CrisisCheck:
    """Says whether a coach's message speaks of harming themselves or someone else."""

    def __init__(
        self, client: openai.AsyncOpenAI | None, *, mode: str = "auto", timeout: float = 10.0
    ) -> None:
        self._client = client
        self._timeout = timeout
        #: False once the server showed it has no moderation endpoint, or with OPENAI_MODERATION=off.
        self.enabled = client is not None and mode == "auto"

    async def in_crisis(self, text: str) -> bool:
        """True when the moderation model flags ``text`` for self-harm or violence."""
        if not self.enabled or self._client is None or not text.strip():
            return False
        try:
            response = await self._client.moderations.create(
                model=MODERATION_MODEL, input=text, timeout=self._timeout
            )
        except openai.NotFoundError:
            if self.enabled:
                self.enabled = False
                logger.warning(
                    "The model's server has no /v1/moderations endpoint: crisis checks are off "
                    "(set OPENAI_MODERATION=off to say so)"
                )
            return False
        except Exception as error:  # the boundary: a failed check never fails the turn
            logger.warning("Crisis check failed; coaching as usual (error=%s)", type(error).__name__)
            return False
        for result in response.results:
            categories = result.categories.model_dump(by_alias=True)
            if any(categories.get(name) for name in CRISIS_CATEGORIES):
                return True
        return False
