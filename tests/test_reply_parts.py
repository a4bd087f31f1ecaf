"""Where a long reply continues in the next Slack message: whitespace, outside code and list items."""

from __future__ import annotations

from bot.delivery.reply_parts import PartBreak, find_break


def split_all(text: str, size: int, hard: int) -> list[str]:
    """The parts a whole ``text`` becomes, written in one go."""
    parts: list[str] = []
    part = ""
    while True:
        cut = find_break(part, text, room=size - len(part), hard_room=hard - len(part), final=True)
        if cut is None:
            parts.append(part + text)
            return parts
        parts.append(part + text[: cut.at] + cut.close)
        part, text = "", cut.reopen + text[cut.at :]


def test_text_that_fits_needs_no_break() -> None:
    assert find_break("", "short", room=10, hard_room=20, final=False) is None


def test_a_paragraph_break_is_preferred_to_a_line_or_a_word() -> None:
    text = "aaaa aaaa\n\nbbbb\ncccc dddd"
    assert find_break("", text, room=20, hard_room=30, final=True) == PartBreak(at=11)


def test_a_word_is_never_cut_when_whitespace_comes_later_within_slacks_limit() -> None:
    cut = find_break("x" * 95, "abc defghij klm", room=5, hard_room=50, final=True)
    assert cut == PartBreak(at=4)  # after "abc ": a little over the size, within the hard limit


def test_without_a_break_yet_the_text_waits_for_more_unless_the_reply_is_over() -> None:
    assert find_break("x " * 50, "abcdefghij", room=5, hard_room=50, final=False) is None
    assert find_break("x " * 50, "abcdefghij", room=5, hard_room=50, final=True) == PartBreak(at=5)


def test_a_list_item_is_not_split_when_the_break_can_fall_between_items() -> None:
    text = "Steps:\n- first step is long\n- second step is long too\n- third one"
    cut = find_break("", text, room=45, hard_room=80, final=True)
    assert cut is not None
    assert text[: cut.at].endswith("- first step is long\n")


def test_a_code_block_is_split_only_at_a_line_and_its_fence_is_reopened() -> None:
    code = "```python\n" + "".join(f"x{n} = {n}\n" for n in range(40)) + "```\n"
    parts = split_all(code, 100, 130)
    assert len(parts) > 2
    for part in parts:
        assert part.startswith("```python\n") and part.rstrip("\n").endswith("```")
        assert len(part) <= 130
    body = "".join(p.removeprefix("```python\n").removesuffix("```").removesuffix("```\n") for p in parts)
    assert body == "".join(f"x{n} = {n}\n" for n in range(40))


def test_prose_before_a_code_block_ends_the_part_rather_than_the_code() -> None:
    text = "Some words here.\n\n```\ncode line one\ncode line two\n```\n"
    cut = find_break("", text, room=30, hard_room=60, final=True)
    assert cut == PartBreak(at=len("Some words here.\n\n"))


def test_every_word_survives_a_52000_character_reply() -> None:
    words = [f"w{n:05d}" for n in range(7500)]
    text = " ".join(words)
    parts = split_all(text, 11_000, 11_996)
    assert all(len(p) <= 11_996 for p in parts)
    assert "".join(parts) == text
    assert [w for p in parts for w in p.split()] == words
