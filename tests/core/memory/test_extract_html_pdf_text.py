"""HTML, PDF and plain-text extraction: bounded memory, locations, and encodings."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from app.core.memory.extract import EXTRACTED, FAILED, SKIPPED, extract
from app.core.memory.extract import html as html_module
from app.core.memory.extract.base import PieceBuffer
from app.core.memory.extract.text import NotText, decode_bytes, read_text
from tests.fixtures import documents

CAP = 100_000


def text_of(result: Any) -> str:
    return "\n".join(piece.text for piece in result.pieces)


# --- HTML: bounded markup, streamed parse, locations -------------------------------------


def test_html_markup_read_is_capped_by_a_byte_limit(tmp_path: Path, monkeypatch: Any) -> None:
    seen: list[int] = []
    real = html_module.read_text

    def spy(path: Path, max_chars: int) -> tuple[str, bool]:
        seen.append(max_chars)
        return real(path, max_chars)

    monkeypatch.setattr(html_module, "read_text", spy)
    path = tmp_path / "page.html"
    path.write_text("<p>a</p>" * 10)
    extract(path, 50_000_000)
    # read_text reads at most 4 bytes a character: never more than HTML_MAX_BYTES of markup.
    assert seen and 4 * seen[0] <= html_module.HTML_MAX_BYTES == 32 * 1024 * 1024


def test_html_cut_at_the_markup_limit_is_flagged_truncated(tmp_path: Path) -> None:
    path = tmp_path / "long.html"
    path.write_text("<html><body>" + "<p>word</p>" * 2_000 + "</body></html>")
    result = extract(path, 1_000)  # at most 4,000 characters of markup are parsed
    assert result.status == EXTRACTED
    assert result.truncated
    assert 0 < result.chars <= 1_000


def test_html_parse_clears_finished_elements(monkeypatch: Any) -> None:
    """The streaming walker frees each element at its end tag: no tree of the page is kept,
    only what the parser read ahead in the current chunk of markup."""
    monkeypatch.setattr(html_module, "_FEED_CHARS", 80)  # ten paragraphs a chunk
    sizes: list[int] = []
    real_end = html_module._Walker.end

    def end(self: Any, element: Any) -> None:
        real_end(self, element)
        parent = element.getparent()
        sizes.append(len(parent) if parent is not None else 0)

    monkeypatch.setattr(html_module._Walker, "end", end)
    buffer = PieceBuffer(CAP)
    html_module.html_pieces("<html><body>" + "<p>a</p>" * 500 + "</body></html>", buffer)
    assert len(buffer.pieces) == 500
    assert max(sizes) <= 12  # the body never holds more than one chunk's paragraphs


def test_html_nesting_too_deep_fails_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 5_000 + "<p>deep</p>" + "</div>" * 5_000
                    + "</body></html>")
    result = extract(path, CAP)
    assert result.status == FAILED
    assert result.reason == "html file nested too deeply"


def deep_page(divs: int) -> str:
    return ("<html><body><p>before</p>" + "<div>" * divs + "<p>deep</p>" + "</div>" * divs
            + "<p>after</p></body></html>")


def test_html_at_the_nesting_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "limit.html"
    path.write_text(deep_page(2_045))  # html, body, the divs and p: 2,048 elements deep
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert text_of(result) == "before\ndeep\nafter"
    assert not result.truncated


def test_html_past_the_nesting_limit_keeps_what_came_before_flagged_truncated(
        tmp_path: Path) -> None:
    """libxml2 stops at the first element past the limit (older lxml leaves the open elements
    unended, newer lxml ends them at close): either way the text before it is kept."""
    path = tmp_path / "deeper.html"
    path.write_text(deep_page(2_046))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert text_of(result) == "before"
    assert result.truncated


def test_html_keeps_main_text_blocks_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "doc.html"
    path.write_text(
        "<html><head><title>T</title><script>var x = 1;</script></head><body>\n"
        "<nav><main><p>menu</p></main></nav>\n"
        "<p>outside main</p>\n"
        "<main><h1>Setup</h1><p>Install <b>it</b> now.</p>\n"
        "<h2>Linux</h2><table><tr><td>a</td><td>b</td></tr></table>\n"
        "<pre>code\n  block</pre></main>\n"
        "<footer><p>foot</p></footer></body></html>\n"
    )
    result = extract(path, CAP)
    assert [(p.text, p.heading) for p in result.pieces] == [
        ("Setup", ("Setup",)),
        ("Install it now.", ("Setup",)),
        ("Linux", ("Setup", "Linux")),
        ("a | b", ("Setup", "Linux")),
        ("code\n  block", ("Setup", "Linux")),
    ]
    assert [(p.line_start, p.line_end) for p in result.pieces][-1] == (6, 7)


def test_html_pieces_before_the_first_heading_have_a_line_range(tmp_path: Path) -> None:
    path = tmp_path / "notes.html"
    path.write_text(
        "<!DOCTYPE html>\n<html><body>\n"
        "<p>Intro before\nany heading.</p>\n"
        "<h1>Chapter</h1>\n"
        "<p>Body text.</p>\n"
        "</body></html>\n"
    )
    result = extract(path, CAP)
    intro, heading, body = result.pieces
    assert intro.text == "Intro before\nany heading." and intro.heading == ()
    assert (intro.line_start, intro.line_end) == (3, 4)
    assert (heading.line_start, heading.heading) == (5, ("Chapter",))
    assert (body.line_start, body.line_end) == (6, 6)


def test_html_text_outside_blocks_is_kept_in_order_with_its_lines(tmp_path: Path) -> None:
    # Text straight in a div (or a td, or the body) is a block of its own: before, a page
    # with any <p> lost all of it.
    path = tmp_path / "divs.html"
    path.write_text(
        "<html><body>\n"
        "<h1>Trip</h1>\n"
        "<div>\n  Pack the <b>tent</b>\n  and stove.</div>\n"
        "<p>Leave at six.</p>\n"
        "<div>Map<br>compass</div><div><div>outer<p>inner</p>tail</div></div>\n"
        "<table><td>loose cell</td></table>\n"
        "<nav><div>Home</div></nav>\n"
        "</body></html>\n"
    )
    result = extract(path, CAP)
    assert [(p.text, p.heading, p.line_start, p.line_end) for p in result.pieces] == [
        ("Trip", ("Trip",), 2, 2),
        ("Pack the tent\nand stove.", ("Trip",), 4, 5),
        ("Leave at six.", ("Trip",), 6, 6),
        ("Map\ncompass", ("Trip",), 7, 7),
        ("outer", ("Trip",), 7, 7),
        ("inner", ("Trip",), 7, 7),
        ("tail", ("Trip",), 7, 7),
        ("loose cell", ("Trip",), 8, 8),
    ]


def test_html_mail_written_one_div_a_line_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "note.eml"
    path.write_bytes(b"From: a@b\nSubject: plans\nContent-Type: text/html\n\n"
                     b"<div dir=\"ltr\">Hi Bob,<div><br></div><div>The meeting moved to "
                     b"<b>Friday</b>.</div><div><br></div><p>-- Ann</p></div>\n")
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert [p.text for p in result.pieces][1:] == ["Hi Bob,", "The meeting moved to Friday.",
                                                   "-- Ann"]


# --- PDF: read lazily from the open file -------------------------------------------------


def test_pdf_is_read_from_an_open_file_not_loaded_whole(tmp_path: Path,
                                                         monkeypatch: Any) -> None:
    import pypdf

    streams: list[Any] = []
    real = pypdf.PdfReader

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, stream: Any, *args: Any, **kwargs: Any) -> None:
            streams.append(stream)
            super().__init__(stream, *args, **kwargs)

    monkeypatch.setattr(pypdf, "PdfReader", Spy)
    path = documents.write_pdf(tmp_path / "r.pdf", ["alpha page", "beta page"])
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert [p.page for p in result.pieces] == [1, 2]
    # Given a path, pypdf reads the whole file into a BytesIO; given a file, it seeks.
    assert len(streams) == 1 and not isinstance(streams[0], (str, Path))
    assert hasattr(streams[0], "seek") and streams[0].closed  # closed once extraction is done


# --- Text: encodings ---------------------------------------------------------------------

FRENCH = ("Le café était très agréable ; nous avons déjà vu l'hôtel près de la gare. "
          "Ça coûte cinq euros, mais la qualité est à la hauteur. Où êtes-vous allés "
          "après la réunion ? Nous sommes restés dîner chez François.\n")
PORTUGUESE = ("A reunião começou às nove horas e terminou ao meio-dia. Não há informação "
              "sobre a situação das ações, mas o relatório está disponível na página.\n")
GERMAN = ("Größere Änderungen für die Übersicht: die Straße wird für Fußgänger schön "
          "gestaltet, und die Brücke über den Fluss wird erneuert.\n")
SPANISH = ("El niño comió una piñata en España. ¿Qué más? Añadir información sobre la "
           "reunión del próximo miércoles en la biblioteca.\n")
POLISH = ("Zażółć gęślą jaźń. Wczoraj spotkaliśmy się w małej kawiarni przy ulicy, gdzie "
          "można zjeść pyszne pączki i wypić mocną herbatę z cytryną.\n")
CZECH = ("Příliš žluťoučký kůň úpěl ďábelské ódy. Včera jsme se sešli v malé kavárně, kde "
         "se dá dobře najíst a vypít čaj s citrónem. Děkujeme za pozvání.\n")
HUNGARIAN = ("Árvíztűrő tükörfúrógép. A megbeszélés reggel kilenckor kezdődött, és délben "
             "ért véget; a jelentés elérhető az oldalon.\n")
RUSSIAN = ("Съешь же ещё этих мягких французских булок, да выпей чаю. Вчера мы встретились "
           "в маленьком кафе, где можно вкусно поесть.\n")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (FRENCH, "cp1252"),
        (FRENCH, "latin-1"),
        ("Réunion à 10h, café compris.\n", "latin-1"),
        (PORTUGUESE, "cp1252"),
        (GERMAN, "cp1252"),
        (SPANISH, "cp1252"),
        (POLISH, "cp1250"),
        (CZECH, "cp1250"),
        (HUNGARIAN, "cp1250"),
        (RUSSIAN, "cp1251"),
        (FRENCH * 3 + POLISH, "utf-8"),
    ],
)
def test_legacy_encodings_are_read_right(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding)) == text


def test_utf8_with_one_stray_byte_after_64_kib_stays_utf8() -> None:
    data = b"plain ascii line\n" * 4200 + FRENCH.encode() + b"\xff\n" + FRENCH.encode()
    text = decode_bytes(data)
    assert text.count("\ufffd") == 1
    assert text.endswith(FRENCH)


def test_legacy_text_whose_accents_start_after_64_kib_is_guessed_from_them() -> None:
    data = b"plain ascii line\n" * 4200 + FRENCH.encode("cp1252")
    assert decode_bytes(data).endswith(FRENCH)


@pytest.mark.parametrize(
    ("data", "expected_end"),
    [
        ("Meeting notes\n\nPrice is 5 euros, see you at the caf\xe9".encode("latin-1"),
         "at the café"),
        ("Ünïcode fine here\n\nThe end: na".encode() + b"\xefve\n", "na\ufffdve"),
    ],
)
def test_a_bad_byte_near_the_end_of_an_uncut_file_keeps_the_tail(
        tmp_path: Path, data: bytes, expected_end: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert text_of(result).rstrip("\n").endswith(expected_end)
    assert not result.truncated


def test_a_character_cut_at_the_read_limit_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes(b"abcdefghijklmno" + "é".encode() * 10)  # é straddles byte 16
    text, truncated = read_text(path, 4)  # reads 16 bytes, keeps 4 characters
    assert truncated and text == "abcd"
    text, truncated = read_text(path, 6)  # reads 24 bytes: the last é is cut
    assert truncated and "\ufffd" not in text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_text(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes((FRENCH + "\n" + RUSSIAN).encode(codec))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert text_of(result) == FRENCH.strip() + "\n" + RUSSIAN.strip()


@pytest.mark.parametrize(
    "data",
    [
        b"hello\x00world\n",
        struct.pack("<2000H", *range(2000)),  # small 16-bit integers: NUL high bytes
        struct.pack("<1000I", *range(0, 100_000, 100)),
        bytes(range(256)) * 64,
    ],
)
def test_binary_with_nul_bytes_is_still_skipped(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(data)
    result = extract(path, CAP)
    assert result.status == SKIPPED
    assert result.reason == "binary content"
    with pytest.raises(NotText):
        decode_bytes(data)
