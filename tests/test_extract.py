"""Text comes out of every readable format; bad files give a reason, never a traceback."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from bot.attachments.extract import (
    Extraction,
    FileKind,
    decode_text,
    extract_file,
    extract_stream,
    kind_of,
    render_csv,
)
from tests.fixtures.documents import encrypted_pdf, tiny_docx, tiny_pdf, tiny_png


async def stream_of(data: bytes, piece: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def extract(data: bytes, name: str, mime_type: str | None = None, **limits: int) -> Extraction:
    return await extract_stream(stream_of(data), name=name, mime_type=mime_type, **limits)


@pytest.mark.parametrize(
    ("name", "mime_type", "kind"),
    [
        ("notes.txt", "text/plain", FileKind.TEXT),
        ("notes.md", "text/plain", FileKind.MARKDOWN),
        ("team.csv", "text/csv", FileKind.CSV),
        ("team.csv", "application/octet-stream", FileKind.CSV),
        ("report.pdf", "application/pdf", FileKind.PDF),
        ("report", "application/pdf", FileKind.PDF),
        (
            "review.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            FileKind.DOCX,
        ),
        ("screen.png", "image/png", FileKind.IMAGE),
        ("transcript.vtt", "text/vtt", FileKind.TEXT),
        ("archive.zip", "application/zip", None),
        ("slides.pptx", None, None),
    ],
)
def test_the_kind_of_a_file_comes_from_its_mime_type_or_extension(name, mime_type, kind) -> None:
    assert kind_of(name, mime_type) is kind


async def test_plain_text_is_read_as_utf8() -> None:
    result = await extract("Delegation: let go of the weekly report. ✓".encode(), "notes.txt", "text/plain")
    assert result == Extraction("Delegation: let go of the weekly report. ✓")


async def test_markdown_is_kept_as_written() -> None:
    result = await extract(b"# Goals\n\n- delegate the report\r\n- hire a lead\n", "goals.md")
    assert result.text == "# Goals\n\n- delegate the report\n- hire a lead"


def test_text_that_is_not_utf8_falls_back_to_windows_1252() -> None:
    assert decode_text("café naïve – résumé".encode("cp1252")) == "café naïve – résumé"


def test_text_with_a_utf16_byte_order_mark_is_decoded_as_utf16() -> None:
    assert decode_text("héllo wörld".encode("utf-16")) == "héllo wörld"


def test_a_cut_in_the_middle_of_a_utf8_character_does_not_change_the_encoding() -> None:
    data = "é" * 10
    cut = data.encode()[:7]  # three and a half characters
    assert decode_text(cut, complete=False) == "ééé"


async def test_binary_data_under_a_text_name_gives_a_reason() -> None:
    result = await extract(b"\x00\x01\x02\x03binary\x00", "dump.txt")
    assert result == Extraction(None, "not text")


async def test_csv_rows_name_their_columns() -> None:
    data = b'name,role,notes\nAda,lead,"wants to delegate, soon"\nBob,engineer,\n'
    result = await extract(data, "team.csv", "text/csv")
    assert result.text == (
        "Columns: name, role, notes\n"
        "name: Ada; role: lead; notes: wants to delegate, soon\n"
        "name: Bob; role: engineer"
    )


def test_semicolon_separated_csv_is_recognised() -> None:
    assert render_csv("name;score\nAda;9\nBob;7\n").splitlines()[1] == "name: Ada; score: 9"


async def test_pdf_text_comes_from_every_page() -> None:
    data = tiny_pdf(["Quarterly review (draft)", "Action: delegate the budget report"])
    result = await extract(data, "review.pdf", "application/pdf")
    assert result == Extraction("Quarterly review (draft)\n\nAction: delegate the budget report")


async def test_pdf_pages_beyond_the_limit_are_not_read() -> None:
    data = tiny_pdf(["page one", "page two", "page three"])
    result = await extract(data, "long.pdf", "application/pdf", max_pages=2)
    assert result == Extraction("page one\n\npage two", truncated=True)


async def test_a_password_protected_pdf_gives_a_reason() -> None:
    result = await extract(encrypted_pdf("confidential plan"), "locked.pdf", "application/pdf")
    assert result == Extraction(None, "the PDF is password-protected")


async def test_a_broken_pdf_gives_a_reason() -> None:
    data = tiny_pdf(["fine"])[:120]  # cut off: no xref, no trailer
    result = await extract(data, "broken.pdf", "application/pdf")
    assert result == Extraction(None, "the PDF could not be read")


async def test_a_pdf_without_text_gives_a_reason() -> None:
    result = await extract(tiny_pdf([""]), "scan.pdf", "application/pdf")
    assert result == Extraction(None, "the PDF has no text (a scan?)")


async def test_docx_paragraphs_and_tables_are_read_in_order() -> None:
    data = tiny_docx(
        ["Feedback for Ada", "Strong at delegation."], table=[["skill", "score"], ["focus", "4"]]
    )
    result = await extract(data, "feedback.docx")
    assert result.text == "Feedback for Ada\n\nStrong at delegation.\n\nskill | score\nfocus | 4"


async def test_a_file_named_docx_that_is_not_one_gives_a_reason() -> None:
    result = await extract(b"PK\x03\x04 certainly not a zip", "fake.docx")
    assert result == Extraction(None, "the Word document could not be read")


async def test_text_over_the_size_limit_is_cut_and_marked() -> None:
    result = await extract(b"word " * 1000, "long.txt", max_chars=100)
    assert result.truncated
    assert result.text is not None and len(result.text) <= 100


async def test_a_file_over_the_input_limit_is_not_read() -> None:
    result = await extract(b"x" * 5000, "huge.txt", max_input_bytes=4096)
    assert result == Extraction(None, "too large to read")


async def test_a_large_input_spools_to_disk_and_still_reads() -> None:
    data = ("line of a long transcript\n" * 100_000).encode()  # ~2.6 MB, past the memory spool
    result = await extract(data, "transcript.txt", max_chars=len(data))
    assert result.text is not None and result.text.count("\n") == 99_999


async def test_an_empty_file_gives_a_reason() -> None:
    assert await extract(b"", "empty.txt") == Extraction(None, "empty file")


async def test_images_are_not_read_as_text() -> None:
    assert await extract(tiny_png(), "screen.png", "image/png") == Extraction(
        None, "images are not read as text"
    )


async def test_unsupported_types_give_a_reason() -> None:
    assert await extract(b"PK\x03\x04", "deck.pptx") == Extraction(None, "unsupported file type")


def test_extract_file_reads_an_open_file() -> None:
    assert extract_file(io.BytesIO(b"hello"), FileKind.TEXT) == Extraction("hello")
