"""Keep model output from pinging anyone.

A coach can ask the model to write ``<!channel>``; Slack would then notify the
whole channel on the bot's behalf. Every special mention is rewritten to plain
text with a word joiner after the ``@`` so Slack cannot turn it back into one.
Replies are streamed, so ``MentionFilter`` also holds back an unfinished
``<…`` until it can tell what it is.
"""

from __future__ import annotations

import re

WORD_JOINER = "\u2060"

_SPECIAL = re.compile(r"<!(channel|here|everyone|group)(?:\|[^<>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|@?([^<>]*))?>", re.IGNORECASE)
_USER = re.compile(r"<@([UWB][A-Z0-9]+)(?:\|([^<>]*))?>", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w@])@(channel|here|everyone)\b", re.IGNORECASE)
# Anything left that still opens a Slack control sequence.
_OPENER = re.compile(r"<(?=[!@#])")

# How long a ``<…`` may stay unfinished before it is released, broken.
MAX_HELD = 128


def neutralize_mentions(text: str) -> str:
    """Rewrite every mention in ``text`` so that it renders but notifies nobody."""
    text = _SPECIAL.sub(lambda m: f"@{WORD_JOINER}{m.group(1).lower()}", text)
    text = _SUBTEAM.sub(lambda m: f"@{WORD_JOINER}{(m.group(1) or 'team').lstrip('@')}", text)
    text = _USER.sub(lambda m: f"@{WORD_JOINER}{m.group(2) or m.group(1)}", text)
    text = _BARE.sub(lambda m: f"@{WORD_JOINER}{m.group(1)}", text)
    return _OPENER.sub("<" + WORD_JOINER, text)


class MentionFilter:
    """Streaming form of :func:`neutralize_mentions`.

    ``feed`` returns the text that is safe to send now; an unfinished ``<…``
    (or a trailing ``@`` word that may become ``@here``) waits for the next
    chunk. ``flush`` returns whatever is left at the end of the reply.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk
        cut = _safe_prefix_length(text)
        self._held = text[cut:]
        return neutralize_mentions(text[:cut])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return neutralize_mentions(text)


def _safe_prefix_length(text: str) -> int:
    """How much of ``text`` can be released without splitting a mention."""
    cut = len(text)
    opener = text.rfind("<")
    if opener != -1 and ">" not in text[opener:] and len(text) - opener <= MAX_HELD:
        cut = opener
    at = text.rfind("@", 0, cut)
    if at != -1:
        word = text[at + 1 : cut]
        if len(word) < len("everyone") and (word == "" or word.isalpha()):
            cut = at
    return cut
