"""Chunks are search-sized, cut at paragraphs and sentences, overlap a little, and keep their order."""

from __future__ import annotations

import itertools

from bot.attachments.chunking import MAX_CHARS, OVERLAP_CHARS, TARGET_CHARS, Chunk, chunk_text


def sentences(n: int, start: int = 0) -> str:
    return " ".join(
        f"Sentence number {i} talks about delegating the weekly report." for i in range(start, start + n)
    )


def test_blank_text_has_no_chunks() -> None:
    assert chunk_text("  \n\n \n") == []


def test_a_short_text_is_one_chunk() -> None:
    assert chunk_text("Goals: delegate.\n\nHire a lead.") == [Chunk(0, "Goals: delegate.\n\nHire a lead.")]


def test_chunks_are_between_the_target_and_the_maximum_size() -> None:
    text = "\n\n".join(sentences(4, start=4 * p) for p in range(60))
    chunks = chunk_text(text)
    assert len(chunks) > 5
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(len(c.text) >= TARGET_CHARS // 2 for c in chunks[:-1])


def test_ordinals_follow_the_text() -> None:
    text = "\n\n".join(sentences(4, start=4 * p) for p in range(40))
    chunks = chunk_text(text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    positions = [text.find(c.text.split("\n\n")[-1]) for c in chunks]
    assert positions == sorted(positions)


def test_chunks_end_at_paragraph_or_sentence_boundaries() -> None:
    one_long_paragraph = sentences(120)
    chunks = chunk_text(one_long_paragraph)
    assert len(chunks) > 3
    assert all(c.text.endswith(".") for c in chunks)


def test_neighbouring_chunks_overlap_by_a_little() -> None:
    chunks = chunk_text(sentences(120))
    for previous, current in itertools.pairwise(chunks):
        shared = current.text.split("\n\n")[0]
        assert previous.text.endswith(shared)
        assert 0 < len(shared) <= OVERLAP_CHARS


def test_nothing_of_the_text_is_lost() -> None:
    text = "\n\n".join(sentences(3, start=3 * p) for p in range(50))
    joined = "\n\n".join(c.text for c in chunk_text(text))
    for i in range(150):
        assert f"Sentence number {i} " in joined


def test_a_wall_of_text_without_punctuation_is_cut_at_spaces() -> None:
    wall = " ".join(f"word{i}" for i in range(2000))
    chunks = chunk_text(wall)
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(not c.text.startswith(("ord", "rd")) for c in chunks)
    assert "word1999" in chunks[-1].text


def test_csv_lines_are_units_of_their_own() -> None:
    rows = "\n".join(f"name: person {i}; role: engineer; notes: wants more ownership" for i in range(200))
    chunks = chunk_text("Columns: name, role, notes\n" + rows)
    assert len(chunks) > 3
    assert all(line.startswith(("name:", "Columns:")) for c in chunks for line in c.text.split("\n\n"))
