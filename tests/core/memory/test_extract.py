"""Extraction of every format from small real fixtures, with citation locations, and bad input
(empty, binary, corrupt, encrypted, oversized): a result, never an exception."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from app.core.memory.extract import EXTRACTED, FAILED, SKIPPED, Extraction, extract
from tests.fixtures import documents

CAP = 200_000


def text_of(result: Extraction) -> str:
    return "\n".join(p.text for p in result.pieces)


def piece_with(result: Extraction, word: str):  # type: ignore[no-untyped-def]
    return next(p for p in result.pieces if word in p.text)


def test_plain_text_with_line_ranges(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("first paragraph\nstill first\n\nsecond paragraph\n", encoding="utf-8")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    second = piece_with(result, "second")
    assert (second.line_start, second.line_end) == (4, 4)
    assert (result.pieces[0].line_start, result.pieces[0].line_end) == (1, 2)


def test_unusual_encoding_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    text = "Größenverhältnisse der Übergänge im Frühjahr, schöne Grüße aus Köln. " * 5
    path.write_bytes(text.encode("cp1252"))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert "Größenverhältnisse" in text_of(result)


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("héllo wörld in utf-16".encode("utf-16"))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert "wörld" in text_of(result)


def test_source_code_is_text(tmp_path: Path) -> None:
    path = tmp_path / "tool.py"
    path.write_text("def frobnicate():\n    return 42\n", encoding="utf-8")
    assert "frobnicate" in text_of(extract(path, CAP))


def test_markdown_heading_path_and_code_block(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(
        "# Notes\n\nIntro text.\n\n## Setup\n\n### Linux\n\nUse apt.\n\n```sh\n# not a heading\n\n"
        "apt install thing\n```\n\n## Other\n\nMore.\n",
        encoding="utf-8",
    )
    result = extract(path, CAP)
    linux = piece_with(result, "Use apt")
    assert linux.heading == ("Notes", "Setup", "Linux")
    assert linux.line_start == 9
    code = piece_with(result, "apt install thing")
    assert "# not a heading" in code.text  # the fence is one block, its '#' no heading
    assert code.heading == ("Notes", "Setup", "Linux")
    assert piece_with(result, "More.").heading == ("Notes", "Other")


def test_rest_sections(tmp_path: Path) -> None:
    path = tmp_path / "guide.rst"
    path.write_text("Guide\n=====\n\nIntro.\n\nInstall\n-------\n\nRun the wombat installer.\n"
                    "\n.. include:: /etc/passwd\n", encoding="utf-8")
    result = extract(path, CAP)
    assert piece_with(result, "wombat").heading == ("Guide", "Install")
    assert "root:" not in text_of(result)  # file inclusion is disabled


def test_org_headings(tmp_path: Path) -> None:
    path = tmp_path / "todo.org"
    path.write_text("* Projects\n** TODO Garden\nDig the parsnip bed.\n\n#+BEGIN_SRC sh\n"
                    "* not a heading\n#+END_SRC\n", encoding="utf-8")
    result = extract(path, CAP)
    assert piece_with(result, "parsnip").heading == ("Projects", "Garden")
    assert piece_with(result, "not a heading").heading == ("Projects", "Garden")


@pytest.mark.timeout(60)
def test_org_heading_with_a_long_run_of_blanks_is_read_in_linear_time(tmp_path: Path) -> None:
    # "(.*?)\s*$" took minutes on this line (100 KB of tabs before the title goes on).
    path = tmp_path / "tabs.org"
    path.write_text("* Head " + "\t" * 100_000 + "tail  \nThe body.\n", encoding="utf-8")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    title = result.pieces[0].heading[0]
    assert title.startswith("Head \t") and title.endswith("\ttail")
    assert piece_with(result, "The body.").heading == (title,)


def test_html_main_text_without_navigation(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>T</title><script>var secret=1;</script></head><body>"
        "<nav>Home | About | Login</nav><main><h1>Recipes</h1><h2>Soup</h2>"
        "<p>Simmer the leeks slowly.</p></main><footer>Copyright</footer></body></html>",
        encoding="utf-8",
    )
    result = extract(path, CAP)
    body = text_of(result)
    assert "Simmer the leeks" in body
    assert "Login" not in body and "secret" not in body and "Copyright" not in body
    assert piece_with(result, "leeks").heading == ("Recipes", "Soup")


def test_pdf_pages_are_kept(tmp_path: Path) -> None:
    path = documents.write_pdf(tmp_path / "report.pdf", ["alpha page text", "beta page text",
                                                        "gamma page text"])
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert piece_with(result, "beta").page == 2
    assert piece_with(result, "gamma").page == 3


def test_encrypted_pdf_is_skipped(tmp_path: Path) -> None:
    plain = documents.write_pdf(tmp_path / "plain.pdf", ["classified"])
    locked = documents.write_encrypted_pdf(tmp_path / "locked.pdf", plain)
    result = extract(locked, CAP)
    assert result.status == SKIPPED
    assert "password" in result.reason


def test_large_pdf_is_capped(tmp_path: Path) -> None:
    path = documents.write_pdf(tmp_path / "long.pdf", [f"page number {i} " * 5 for i in range(300)])
    result = extract(path, 2_000)
    assert result.status == EXTRACTED
    assert result.truncated
    assert result.chars <= 2_000


def test_docx_headings_and_table(tmp_path: Path) -> None:
    result = extract(documents.write_docx(tmp_path / "setup.docx"), CAP)
    assert piece_with(result, "zebracorn").heading == ("Setup", "Linux")
    assert "Debian | apt install quokkafish" in text_of(result)


def test_pptx_slides_are_pages(tmp_path: Path) -> None:
    result = extract(documents.write_pptx(tmp_path / "deck.pptx"), CAP)
    narwhal = piece_with(result, "narwhal")
    assert narwhal.page == 2
    assert narwhal.heading == ("Next steps",)
    assert piece_with(result, "axolotl").heading == ("Next steps", "Notes")


def test_xlsx_sheets_and_rows(tmp_path: Path) -> None:
    result = extract(documents.write_xlsx(tmp_path / "budget.xlsx"), CAP)
    rows = piece_with(result, "Pangolin")
    assert rows.heading == ("Budget",)
    assert "Pangolin food | 12.5" in rows.text
    assert piece_with(result, "tapir").heading == ("Notes",)


def test_csv_rows(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name;city\nAda;London\nGrace;Arlington\n", encoding="utf-8")
    result = extract(path, CAP)
    assert "Grace | Arlington" in text_of(result)
    assert result.pieces[0].line_start == 1


def test_odt_headings(tmp_path: Path) -> None:
    result = extract(documents.write_odt(tmp_path / "garden.odt"), CAP)
    assert piece_with(result, "rutabaga").heading == ("Garden", "Pests")


def test_epub_chapters(tmp_path: Path) -> None:
    result = extract(documents.write_epub(tmp_path / "book.epub"), CAP)
    storm = piece_with(result, "kelp forest")
    assert storm.heading == ("Endings",)
    assert storm.page is not None and storm.page > piece_with(result, "albatross").page


def test_eml_headers_body_and_text_attachment(tmp_path: Path) -> None:
    result = extract(documents.write_eml(tmp_path / "trip.eml"), CAP)
    body = text_of(result)
    assert "Subject: Trip plan" in body
    assert "fjord" in body
    assert piece_with(result, "crampons").heading == ("Trip plan", "notes.txt")


def test_mbox_messages(tmp_path: Path) -> None:
    result = extract(documents.write_mbox(tmp_path / "inbox.mbox"), CAP)
    assert piece_with(result, "behind the fridge").page == 2
    assert piece_with(result, "escaped").heading == ("First",)


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx"])
def test_empty_files_are_skipped(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    result = extract(path, CAP)
    assert (result.status, result.reason) == (SKIPPED, "empty file")


def test_binary_with_text_extension_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 10)
    result = extract(path, CAP)
    assert result.status == SKIPPED
    assert "binary" in result.reason


def test_corrupt_office_file_fails_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    result = extract(path, CAP)
    assert result.status == FAILED
    assert "docx" in result.reason


def test_password_protected_office_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    result = extract(path, CAP)
    assert result.status == SKIPPED
    assert "password" in result.reason


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    assert extract(path, CAP).status == SKIPPED


def test_text_cap_bounds_a_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    path.write_text("line of log output\n" * 200_000, encoding="utf-8")
    result = extract(path, 10_000)
    assert result.status == EXTRACTED
    assert result.truncated
    assert result.chars <= 10_000
