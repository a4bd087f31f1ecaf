"""Model output never pings anyone."""

import pytest

from bot.conversation.mentions import WORD_JOINER, MentionFilter, neutralize_mentions

J = WORD_JOINER


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("<!channel> look", f"@{J}channel look"),
        ("<!here>", f"@{J}here"),
        ("<!everyone|everyone>", f"@{J}everyone"),
        ("ask <@U0123ABC>", f"ask @{J}U0123ABC"),
        ("ask <@U0123ABC|dana>", f"ask @{J}dana"),
        ("<!subteam^S0123|@leads> hi", f"@{J}leads hi"),
        ("plain @here text", f"plain @{J}here text"),
        ("mail me at a@here.com", "mail me at a@here.com"),
    ],
)
def test_every_kind_of_mention_is_neutralised(raw: str, safe: str) -> None:
    assert neutralize_mentions(raw) == safe


def test_an_unfinished_control_sequence_cannot_be_completed_later() -> None:
    assert "<@" not in neutralize_mentions("<@U0123")
    assert "<!" not in neutralize_mentions("<!chan")


def test_text_without_mentions_is_unchanged() -> None:
    text = "Try **one** small step: 3 < 5 and 5 > 3."
    assert neutralize_mentions(text) == text


def test_streamed_mentions_split_across_chunks_are_caught() -> None:
    chunks = ["Hey <", "!chan", "nel> and <@U", "0ABC|sam", "> and @he", "re done"]
    stream = MentionFilter()
    out = "".join(stream.feed(c) for c in chunks) + stream.flush()
    assert out == f"Hey @{J}channel and @{J}sam and @{J}here done"


def test_streamed_text_is_released_as_soon_as_it_is_safe() -> None:
    stream = MentionFilter()
    assert stream.feed("Hello there, ") == "Hello there, "
    assert stream.feed("a <") == "a "
    assert stream.feed("b>") == "<b>"
