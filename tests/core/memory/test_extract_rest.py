"""reStructuredText extraction: long lines, docutils' own messages kept out of the index, and
line ranges that point at the source lines of each piece's text."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.core.memory.extract import EXTRACTED, Extraction, Piece, extract, markup

CAP = 200_000


def rest(tmp_path: Path, text: str, max_chars: int = CAP) -> Extraction:
    path = tmp_path / "doc.rst"
    path.write_text(text, encoding="utf-8")
    return extract(path, max_chars)


def text_of(result: Extraction) -> str:
    return "\n".join(p.text for p in result.pieces)


def piece_with(result: Extraction, words: str) -> Piece:
    return next(p for p in result.pieces if words in p.text)


def lines_of(result: Extraction, words: str) -> tuple[int | None, int | None]:
    piece = piece_with(result, words)
    return piece.line_start, piece.line_end


# --- 1. a line longer than docutils' 10,000-character default ---------------------------------

def test_long_line_keeps_the_whole_document(tmp_path: Path) -> None:
    long_paragraph = "word " * 2400
    result = rest(tmp_path, "Guide\n=====\n\nIntro paragraph about installation.\n\n"
                            "Details\n-------\n\n" + long_paragraph + "\n\nClosing paragraph.\n")
    assert result.status == EXTRACTED
    assert "line-length-limit" not in text_of(result)
    assert lines_of(result, "Intro paragraph") == (4, 4)
    assert lines_of(result, "Closing paragraph") == (11, 11)
    long_piece = piece_with(result, "word word")
    assert long_piece.text == long_paragraph.strip()
    assert (long_piece.line_start, long_piece.line_end) == (9, 9)
    assert long_piece.heading == ("Guide", "Details")


def test_one_line_file_is_cut_at_the_cap(tmp_path: Path) -> None:
    result = rest(tmp_path, "lorem ipsum dolor sit amet " * 12_000, max_chars=100_000)
    assert result.status == EXTRACTED
    assert result.truncated
    assert result.chars == 100_000
    assert result.pieces[0].text.startswith("lorem ipsum")
    assert (result.pieces[0].line_start, result.pieces[0].line_end) == (1, 1)


def test_substitutions_still_cannot_blow_up(tmp_path: Path) -> None:
    # Long lines are allowed while parsing only: docutils' substitution expansion keeps its
    # 10,000-character guard, so nested definitions cannot multiply the text.
    lines = ["Para |l6|.", "", ".. |l0| replace:: lol"]
    lines += [f".. |l{i}| replace:: " + " ".join([f"|l{i - 1}|"] * 10) for i in range(1, 7)]
    started = time.monotonic()
    result = rest(tmp_path, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 10
    assert result.chars < 1_000


# --- 2. docutils' messages and rejected directives are not document text ----------------------

DIRECTIVES = (
    "Doc\n===\n\n"                                                    # 1-3
    ".. include:: {secret}\n\n"                                       # 4-5
    ".. raw:: html\n   :file: {secret}\n\n"                           # 6-8
    ".. nosuchdirective:: arg\n\n   body of unknown directive\n\n"    # 9-12
    ".. csv-table:: T\n   :file: {secret}\n\n"                        # 13-15
    "Inline `broken reference`_ and |undefined| substitution.\n\n"   # 16-17
    ".. toctree::\n   :maxdepth: 2\n\n   intro\n   install\n\n"       # 18-23
    ".. versionadded:: 1.2\n\n   Added the *wombat* option.\n\n"      # 24-27
    ".. code-block:: python\n   :linenos:\n\n   x = 28 + 1\n   y = 31\n\n"  # 28-33
    "* item with a directive\n\n  .. autofunction:: pkg.fn\n\n"       # 34-37
    ".. seealso::\n\n   .. include:: {secret}\n\n   The wombat manual.\n\n"  # 38-43
    "Normal paragraph.\n"                                              # 44
)


def test_messages_and_rejected_directives_are_not_indexed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET root:x:0:0\n", encoding="utf-8")
    result = rest(tmp_path, DIRECTIVES.format(secret=secret))
    assert result.status == EXTRACTED
    text = text_of(result)
    for noise in ("directive disabled", "deactivated", "directive type", "No directive entry",
                  "Error in", str(secret),
                  "TOPSECRET", ":file:", "maxdepth", "install", "autofunction", "::"):
        assert noise not in text, noise
    assert all(p.line_start is not None and p.line_end is not None for p in result.pieces)
    assert lines_of(result, "Inline") == (16, 16)
    assert lines_of(result, "Normal paragraph.") == (44, 44)


def test_unknown_directive_content_is_kept_where_it_is(tmp_path: Path) -> None:
    result = rest(tmp_path, DIRECTIVES.format(secret=tmp_path / "secret.txt"))
    assert lines_of(result, "body of unknown") == (11, 11)
    assert piece_with(result, "body of unknown").heading == ("Doc",)
    assert piece_with(result, "wombat option").text == "Added the wombat option."
    assert lines_of(result, "wombat option") == (26, 26)
    assert piece_with(result, "x = 28").text == "x = 28 + 1\ny = 31"  # code stays verbatim
    assert lines_of(result, "x = 28") == (31, 32)
    assert lines_of(result, "item with a directive") == (34, 34)
    assert lines_of(result, "wombat manual") == (42, 42)


# --- 3. line ranges are the source lines of each piece's text ---------------------------------

LOC = ("Title One\n=========\n\nFirst paragraph line one\ncontinues on line five.\n\n"
       "Sub A\n-----\n\n* item one on line ten\n* item two on line eleven\n\n::\n\n"
       "    literal line fifteen\n    literal line sixteen\n\nLast paragraph line eighteen.\n")


def test_line_ranges_of_the_audit_fixture(tmp_path: Path) -> None:
    result = rest(tmp_path, LOC)
    assert [(p.text.split("\n")[0], p.line_start, p.line_end) for p in result.pieces] == [
        ("Title One", 1, 1),
        ("First paragraph line one", 4, 5),
        ("Sub A", 7, 7),
        ("item one on line ten", 10, 11),
        ("literal line fifteen", 15, 16),
        ("Last paragraph line eighteen.", 18, 18),
    ]
    assert piece_with(result, "Sub A").heading == ("Title One", "Sub A")


RICH = """\
=========
Overlined
=========

Deeper
~~~~~~

1. enum one
2. enum two
   continued

term
   definition of term
   second line

.. note:: Note text
   continues

   second note paragraph

+--------+--------+
| cell a | cell b |
+========+========+
| cell c | cell d |
+--------+--------+

.. code:: python

   x = 1
   y = 2

>>> print("doctest")
doctest

| line block one
| line block two

:field: field value
:other: other value

Para with text::

    literal one
    literal two

Back Up
~~~~~~~

After the nested section.
"""


def test_line_ranges_per_construct(tmp_path: Path) -> None:
    result = rest(tmp_path, RICH)
    assert lines_of(result, "Overlined") == (2, 2)
    assert lines_of(result, "Deeper") == (5, 5)
    assert piece_with(result, "Deeper").heading == ("Overlined", "Deeper")
    assert lines_of(result, "enum one") == (8, 10)
    assert lines_of(result, "definition of term") == (12, 14)
    assert lines_of(result, "Note text") == (16, 17)
    assert lines_of(result, "second note paragraph") == (19, 19)
    assert lines_of(result, "cell c") == (22, 24)
    assert lines_of(result, "x = 1") == (29, 30)
    assert lines_of(result, "doctest") == (32, 33)
    assert lines_of(result, "line block one") == (35, 36)
    assert lines_of(result, "field value") == (38, 39)
    assert lines_of(result, "Para with text") == (41, 41)
    assert lines_of(result, "literal one") == (43, 44)
    assert lines_of(result, "Back Up") == (46, 46)
    assert piece_with(result, "After the nested").heading == ("Overlined", "Back Up")
    assert lines_of(result, "After the nested") == (49, 49)


def test_rest_with_a_long_list_of_bare_links_in_one_paragraph_keeps_its_structure(
        tmp_path: Path) -> None:
    # docutils recognizes bare URIs by recursion, one level a link (past about 970 links in one
    # paragraph it gave up); the extractor does not look for them, as they are text anyway.
    links = " ".join(f"see https://example.org/page{i} here" for i in range(1_200))
    path = tmp_path / "links.rst"
    path.write_text(f"Links\n=====\n\n{links}\n\nAfter the list.\n", encoding="utf-8")
    result = extract(path, 2_000_000)
    assert result.status == EXTRACTED
    assert [(p.line_start, p.line_end) for p in result.pieces] == [(1, 1), (4, 4), (6, 6)]
    assert {p.heading for p in result.pieces} == {("Links",)}
    assert "https://example.org/page1199 here" in result.pieces[1].text
    assert result.pieces[2].text == "After the list."


def test_rest_nested_deeper_than_docutils_can_parse_is_read_as_text(tmp_path: Path) -> None:
    # Each level of a nested list is a nested parse: past a few hundred docutils runs out of
    # recursion. Such a file is read as plain text, by paragraphs, without headings.
    levels = "".join("  " * i + f"- item{i}\n\n" for i in range(1_000))
    path = tmp_path / "deep.rst"
    path.write_text(f"Deep\n====\n\n{levels}After the list.\n", encoding="utf-8")
    result = extract(path, 2_000_000)
    assert result.status == EXTRACTED
    assert all(p.heading == () for p in result.pieces)
    assert result.pieces[0].text.startswith("Deep")
    assert "item999" in " ".join(p.text for p in result.pieces)
    assert result.pieces[-1].text == "After the list."


@pytest.mark.timeout(60)
@pytest.mark.parametrize("body", ["before " + "a-b-" * 60_000 + " after", "`a " * 40_000 + "`b"])
def test_rest_text_too_costly_for_the_inline_parser_keeps_its_markup_and_structure(
        tmp_path: Path, body: str) -> None:
    # docutils' inline parser is quadratic on both: a 240,000-character run of hyphenated
    # words took hours, unmatched backquotes seconds per 100 KB.
    assert markup.inline_steps(body) > markup.MAX_INLINE_STEPS_PER_TEXT
    path = tmp_path / "costly.rst"
    path.write_text(f"Title\n=====\n\n{body}\n\nNext *one*.\n", encoding="utf-8")
    result = extract(path, 2_000_000)
    assert result.status == EXTRACTED
    assert [(p.line_start, p.line_end) for p in result.pieces] == [(1, 1), (4, 4), (6, 6)]
    assert {p.heading for p in result.pieces} == {("Title",)}
    assert [p.text for p in result.pieces[1:]] == [body, "Next one."]


def test_rest_inline_markup_is_parsed_until_the_file_budget_is_spent(tmp_path: Path) -> None:
    paragraph = " ".join(["*a*"] * 1_000)
    steps = markup.inline_steps(paragraph)
    assert steps <= markup.MAX_INLINE_STEPS_PER_TEXT
    parsed = (markup.MAX_INLINE_STEPS_PER_FILE - markup.inline_steps("Title")) // steps
    assert 0 < parsed < 30
    path = tmp_path / "budget.rst"
    path.write_text("Title\n=====\n\n" + f"{paragraph}\n\n" * 30, encoding="utf-8")
    result = extract(path, 2_000_000)
    assert result.status == EXTRACTED
    texts = [p.text for p in result.pieces[1:]]
    assert texts == [" ".join(["a"] * 1_000)] * parsed + [paragraph] * (30 - parsed)
    assert extract(path, 2_000_000).pieces == result.pieces  # the same every time


def test_rest_parse_past_its_deadline_is_read_as_text(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Thousands of lists between paragraphs make docutils quadratic (16,000: 14 s).
    path = tmp_path / "lists.rst"
    path.write_text("Title\n=====\n\n" + "para\n\n- item\n\n" * 50, encoding="utf-8")
    assert {p.heading for p in extract(path, 2_000_000).pieces} == {("Title",)}
    monkeypatch.setattr(markup, "MAX_REST_PARSE_SECONDS", -1.0)
    result = extract(path, 2_000_000)
    assert result.status == EXTRACTED
    assert {p.heading for p in result.pieces} == {()}
    assert [p.text for p in result.pieces[:3]] == ["Title\n=====", "para", "- item"]
    assert len(result.pieces) == 101


def test_rest_code_is_not_highlighted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pygments took 16 s over one 500 KB line of a code block, for nothing: the text is the
    # same without it.
    from pygments.lexer import Lexer

    lexed: list[str] = []
    monkeypatch.setattr(Lexer, "get_tokens", lambda self, text, *a, **k: lexed.append(text))
    line = "x ==?utf-8?b?" * 40_000
    path = tmp_path / "code.rst"
    path.write_text(f"Code\n====\n\n.. code:: python\n\n   {line}\n", encoding="utf-8")
    result = extract(path, 2_000_000)
    assert result.status == EXTRACTED
    assert result.pieces[-1].text == line
    assert lexed == []
