"""Zip packages (DOCX, PPTX, ODT, EPUB, XLSX) under hostile or unusual input: zip bombs of
text and of media, lying headers, absurd heading levels, lost EPUB items, content controls,
merged cells, speed on many paragraphs, and a location for every piece."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.memory.extract import EXTRACTED, FAILED, archive, books, extract, office

CAP = 200_000
BIG = archive.MAX_TEXT_PART_BYTES + archive.MIB  # just over the per-part limit
REL_IMAGE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"


def texts(path: Path) -> list[str]:
    result = extract(path, CAP)
    assert result.status == EXTRACTED, result.reason
    return [p.text for p in result.pieces]


def rewrite(src: Path, dst: Path, edit: Callable[[str, bytes], bytes | None] = lambda n, d: d,
            big: dict[str, tuple[bytes, bytes, bytes]] | None = None, size: int = BIG) -> Path:
    """Copy a zip, ``edit`` each member (None drops it), and add ``big`` members streamed as
    head + filler (to ``size`` bytes) + tail, so a tiny file inflates past the limits."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for info in zin.infolist():
            with zin.open(info) as member:  # not ZipFile.read: ``media_read`` watches that
                data = edit(info.filename, member.read())
            if data is not None:
                out.writestr(info.filename, data)
        for name, (head, filler, tail) in (big or {}).items():
            with out.open(name, "w", force_zip64=True) as sink:
                sink.write(head)
                block = filler * (archive.MIB // len(filler))
                for _ in range(size // len(block)):
                    sink.write(block)
                sink.write(tail)
    return dst


@pytest.fixture
def media_read(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Bytes any library read of each ``big.png`` member (the media of a media bomb)."""
    seen: dict[str, int] = {}
    real_read = zipfile.ZipFile.read

    def read(self: zipfile.ZipFile, name: str | zipfile.ZipInfo, pwd: bytes | None = None
             ) -> bytes:
        data = real_read(self, name, pwd)
        member = name.filename if isinstance(name, zipfile.ZipInfo) else name
        if member.endswith("big.png"):
            seen[member] = max(seen.get(member, 0), len(data))
        return data

    monkeypatch.setattr(zipfile.ZipFile, "read", read)
    return seen


def zeros(name: str) -> dict[str, tuple[bytes, bytes, bytes]]:
    return {name: (b"", b"\0", b"")}


def base_docx(path: Path, *paragraphs: str) -> Path:
    import docx

    document = docx.Document()
    for text in paragraphs or ("hello",):
        document.add_paragraph(text)
    document.save(str(path))
    return path


# --- defect 1: DOCX zip bombs ------------------------------------------------------------


def test_docx_whose_text_part_inflates_past_the_limit_is_refused(tmp_path: Path) -> None:
    source = base_docx(tmp_path / "base.docx")

    def pad(name: str, data: bytes) -> bytes:  # a huge comment: cheap to parse, if parsed
        if name == "word/document.xml":
            return data.replace(b"<w:body>", b"<w:body><!--" + b"x" * BIG + b"-->", 1)
        return data

    bomb = rewrite(source, tmp_path / "bomb.docx", pad)
    assert bomb.stat().st_size < 1_000_000
    result = extract(bomb, CAP)
    assert result.status == FAILED
    assert result.reason.startswith("docx file too large when unpacked")


def test_docx_media_bomb_is_read_without_its_media(tmp_path: Path,
        media_read: dict[str, int]) -> None:
    source = base_docx(tmp_path / "base.docx")

    def relate(name: str, data: bytes) -> bytes:
        if name == "word/_rels/document.xml.rels":
            return data.replace(b"</Relationships>", b'<Relationship Id="rIdBig" Type="'
                                + REL_IMAGE.encode() + b'" Target="media/big.png"/></Relationships>')
        if name == "[Content_Types].xml":
            return data.replace(b"</Types>", b'<Default Extension="png" '
                                b'ContentType="image/png"/></Types>')
        return data

    bomb = rewrite(source, tmp_path / "media.docx", relate, zeros("word/media/big.png"))
    source_given = archive.package_source(bomb, "docx")
    assert isinstance(source_given, io.BytesIO)  # a copy ...
    with zipfile.ZipFile(source_given) as copy:
        assert copy.getinfo("word/media/big.png").file_size == 0  # ... with the media emptied
        assert copy.getinfo("word/document.xml").file_size > 0
    assert texts(bomb) == ["hello"]
    assert not any(media_read.values())  # the library never got the media bytes


def test_small_package_is_handed_over_as_is(tmp_path: Path) -> None:
    path = base_docx(tmp_path / "plain.docx")
    assert archive.package_source(path, "docx") == str(path)


def test_odt_whose_content_inflates_past_its_limit_is_refused(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text="hello"))
    document.save(str(tmp_path / "base.odt"))
    with zipfile.ZipFile(tmp_path / "base.odt") as zf:
        head, tail = zf.read("content.xml").split(b"<text:p>hello</text:p>")
    bomb = rewrite(tmp_path / "base.odt", tmp_path / "bomb.odt",
                   lambda n, d: None if n == "content.xml" else d,
                   {"content.xml": (head, b"<text:p>a</text:p>", tail)},
                   size=archive.MAX_ODT_TEXT_BYTES + archive.MIB)
    result = extract(bomb, CAP)
    assert result.status == FAILED
    assert result.reason.startswith("odt file too large when unpacked")


def test_pptx_table_rows_leave_out_empty_and_merged_cells(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Plan"
    table = slide.shapes.add_table(3, 3, Inches(1), Inches(1), Inches(6), Inches(2)).table
    table.cell(0, 0).text = "wide"
    table.cell(0, 0).merge(table.cell(0, 2))
    table.cell(1, 0).text, table.cell(1, 2).text = "left", "right"
    deck.save(str(tmp_path / "plan.pptx"))
    assert texts(tmp_path / "plan.pptx") == ["Plan", "wide", "left | right"]


def test_odt_notes_are_read_after_the_body_not_into_their_sentence(tmp_path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, Note, NoteBody, NoteCitation, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Results"))
    for text, note_class, body in (("The yield rose", "footnote", "Measured in May."),
                                   ("as expected", "endnote", "See the 2019 trial."),
                                   ("and held", "footnote", "Until June.")):
        paragraph = P(text=text)
        note = Note(noteclass=note_class)
        note.addElement(NoteCitation(text="1"))
        note_body = NoteBody()
        note_body.addElement(P(text=body))
        note.addElement(note_body)
        paragraph.addElement(note)
        paragraph.addText(".")
        document.text.addElement(paragraph)
    document.save(str(tmp_path / "notes.odt"))
    result = extract(tmp_path / "notes.odt", CAP)
    assert [(p.text, p.heading, p.line_start) for p in result.pieces] == [
        ("Results", ("Results",), 1),
        ("The yield rose.", ("Results",), 2),
        ("as expected.", ("Results",), 3),
        ("and held.", ("Results",), 4),
        ("Measured in May.", ("Footnotes",), None),
        ("Until June.", ("Footnotes",), None),
        ("See the 2019 trial.", ("Endnotes",), None),
    ]


def test_odt_space_counts_are_bounded(tmp_path: Path) -> None:
    # odfpy's own reader would build a string of two billion spaces for this one element.
    from odf.opendocument import OpenDocumentText
    from odf.text import P, S

    document = OpenDocumentText()
    for count in (3, 2_000_000_000, 0):
        paragraph = P(text="a")
        paragraph.addElement(S(c=count))
        paragraph.addText("b")
        document.text.addElement(paragraph)
    document.save(str(tmp_path / "spaces.odt"))
    damaged = rewrite(tmp_path / "spaces.odt", tmp_path / "odd.odt",
                      lambda n, d: d.replace(b'text:c="0"', b'text:c="x"'))
    assert texts(damaged) == ["a   b", "a" + " " * 100 + "b", "a b"]


@pytest.mark.parametrize("part", ["content.xml", "styles.xml", "meta.xml"])
def test_odt_with_a_part_that_is_not_xml_fails_without_printing_it(
        tmp_path: Path, part: str, capfd: pytest.CaptureFixture[str]) -> None:
    # odfpy prints such a part whole (the document's words) and goes on without it.
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text="wombatcanary in the body"))
    document.save(str(tmp_path / "base.odt"))
    damaged = rewrite(tmp_path / "base.odt", tmp_path / "damaged.odt",
                      lambda n, d: d[: len(d) // 2] + b" wombatcanary <" if n == part else d)
    result = extract(damaged, CAP)
    assert result.status == FAILED
    assert result.reason == "damaged odt file (a part is not well-formed XML)"
    out, err = capfd.readouterr()
    assert "wombatcanary" not in out + err
    assert texts(tmp_path / "base.odt") == ["wombatcanary in the body"]  # the next one reads


def test_lying_header_cannot_read_past_the_limit(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("word/document.xml", b"<a>" + b" " * (3 * archive.MIB) + b"</a>")
    monkeypatch.setattr(archive, "MAX_TEXT_PART_BYTES", archive.MIB)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("word/document.xml")
        info.file_size = 1_000  # the header claims little: zipfile stops there (CRC fails)
        with pytest.raises(zipfile.BadZipFile):
            archive.TextBudget("docx").read(zf, info)
        info.file_size = 10**12  # claims a lot: the budget stops at the limit, not the claim
        with pytest.raises(archive.PackageTooLarge):
            archive.TextBudget("docx").read(zf, info)


def test_too_many_parts_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = base_docx(tmp_path / "many.docx")
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    result = extract(path, CAP)
    assert result.status == FAILED
    assert "too many parts" in result.reason


# --- defect 2: PPTX, EPUB, ODT media bombs; XLSX shared strings ---------------------------


def test_pptx_media_bomb_keeps_the_text(tmp_path: Path,
        media_read: dict[str, int]) -> None:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Title"
    slide.placeholders[1].text = "hello"
    deck.save(str(tmp_path / "base.pptx"))

    def relate(name: str, data: bytes) -> bytes:
        if name == "ppt/slides/_rels/slide1.xml.rels":
            return data.replace(b"</Relationships>", b'<Relationship Id="rIdBig" Type="'
                                + REL_IMAGE.encode()
                                + b'" Target="../media/big.png"/></Relationships>')
        if name == "[Content_Types].xml":
            return data.replace(b"</Types>", b'<Default Extension="png" '
                                b'ContentType="image/png"/></Types>')
        return data

    bomb = rewrite(tmp_path / "base.pptx", tmp_path / "media.pptx", relate,
                   zeros("ppt/media/big.png"))
    copy = archive.package_source(bomb, "pptx")
    assert isinstance(copy, io.BytesIO)
    assert zipfile.ZipFile(copy).getinfo("ppt/media/big.png").file_size == 0
    assert texts(bomb) == ["Title", "hello"]
    assert not any(media_read.values())


def test_odt_media_bomb_keeps_the_text(tmp_path: Path,
        media_read: dict[str, int]) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text="hello"))
    document.addPicture("Pictures/big.png", "image/png", b"\x89PNG")
    document.save(str(tmp_path / "base.odt"))
    bomb = rewrite(tmp_path / "base.odt", tmp_path / "media.odt",
                   lambda n, d: None if n == "Pictures/big.png" else d, zeros("Pictures/big.png"))
    copy = archive.package_source(bomb, "odt")
    assert isinstance(copy, io.BytesIO)
    assert zipfile.ZipFile(copy).getinfo("Pictures/big.png").file_size == 0
    assert texts(bomb) == ["hello"]
    assert not any(media_read.values())  # the library never got the media bytes


def write_book(path: Path, chapters: int = 2, image: bool = False) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("x")
    book.set_title("t")
    book.set_language("en")
    items = []
    for number in range(1, chapters + 1):
        chapter = epub.EpubHtml(title=f"c{number}", file_name=f"c{number}.xhtml")
        chapter.content = f"<html><body><h1>C{number}</h1><p>text {number}</p></body></html>"
        book.add_item(chapter)
        items.append(chapter)
    if image:
        book.add_item(epub.EpubItem(uid="big", file_name="big.png", media_type="image/png",
                                    content=b"\x89PNG"))
    book.spine = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


def test_epub_media_bomb_keeps_the_text_and_never_reads_the_media(tmp_path: Path,
        media_read: dict[str, int]) -> None:
    base = write_book(tmp_path / "base.epub", chapters=1, image=True)
    with zipfile.ZipFile(base) as zf:
        image_name = next(n for n in zf.namelist() if n.endswith("big.png"))
    bomb = rewrite(base, tmp_path / "media.epub", lambda n, d: None if n == image_name else d,
                   zeros(image_name))
    book = books._reader(bomb).load()
    assert book.get_item_with_id("big").get_content() == b""
    assert texts(bomb) == ["C1", "text 1"]
    assert not any(media_read.values())


def test_xlsx_shared_strings_bomb_is_refused_but_big_worksheets_are_streamed(
        tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "hello"
    workbook.save(str(tmp_path / "base.xlsx"))
    namespace = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'

    def shared(name: str, data: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            return data.replace(b'<c r="A1" t="inlineStr"><is><t>hello</t></is></c>',
                                b'<c r="A1" t="s"><v>0</v></c>')
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(b"</Relationships>", b'<Relationship Type="http://schemas.'
                                b'openxmlformats.org/officeDocument/2006/relationships/'
                                b'sharedStrings" Target="sharedStrings.xml" Id="rId9"/>'
                                b"</Relationships>")
        if name == "[Content_Types].xml":
            return data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" '
                                b'ContentType="application/vnd.openxmlformats-officedocument.'
                                b'spreadsheetml.sharedStrings+xml"/></Types>')
        return data

    bomb = rewrite(tmp_path / "base.xlsx", tmp_path / "sst.xlsx", shared, {
        "xl/sharedStrings.xml": (namespace + b"<si><t>hello</t></si>", b"<si><t>x</t></si>",
                                 b"</sst>")})
    result = extract(bomb, CAP)
    assert result.status == FAILED
    assert result.reason.startswith("xlsx file too large when unpacked")

    def no_sheet(name: str, data: bytes) -> bytes | None:
        return None if name == "xl/worksheets/sheet1.xml" else data

    big_sheet = rewrite(tmp_path / "base.xlsx", tmp_path / "sheet.xlsx", no_sheet,
                        {"xl/worksheets/sheet1.xml": (b"<worksheet>", b" ", b"</worksheet>")})
    archive.check(big_sheet, "xlsx")  # openpyxl streams worksheets: not held, not counted
    with zipfile.ZipFile(big_sheet) as zf:
        assert [i.filename for i in archive.inspect(zf, "xlsx").streamed] == [
            "xl/worksheets/sheet1.xml"]


# --- defect 3: absurd heading levels -------------------------------------------------------


def test_huge_heading_levels_are_clamped(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    huge = 10**12  # unclamped, the heading trail would be a list this long
    document = docx.Document()
    document.styles.add_style(f"Heading {huge}", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Deep", style=f"Heading {huge}")
    document.add_paragraph("body")
    document.save(str(tmp_path / "deep.docx"))
    odt = OpenDocumentText()
    odt.text.addElement(H(outlinelevel=huge, text="Deep"))
    odt.text.addElement(P(text="body"))
    odt.save(str(tmp_path / "deep.odt"))
    for path in (tmp_path / "deep.docx", tmp_path / "deep.odt"):
        result = extract(path, CAP)
        assert result.status == EXTRACTED, result.reason
        assert [p.heading for p in result.pieces] == [("Deep",), ("Deep",)]
    assert office._clamp_level(str(huge)) == office.MAX_HEADING_LEVEL


@pytest.mark.parametrize(("level", "expected"), [("abc", ("C",)), ("0", ("C",)),
                                                 ("-3", ("C",)), ("3", ("A", "B", "C"))])
def test_odd_odt_outline_levels(tmp_path: Path, level: str, expected: tuple[str, ...]) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    odt = OpenDocumentText()
    for number, (title, body) in enumerate((("A", "pa"), ("B", "pb"), ("C", "pc")), start=1):
        odt.text.addElement(H(outlinelevel=9 if title == "C" else number, text=title))
        odt.text.addElement(P(text=body))
    odt.save(str(tmp_path / "base.odt"))
    path = rewrite(tmp_path / "base.odt", tmp_path / "odd.odt", lambda n, d: d.replace(
        b'text:outline-level="9"', b'text:outline-level="%s"' % level.encode()))
    result = extract(path, CAP)
    assert result.status == EXTRACTED, result.reason
    pc = next(p for p in result.pieces if p.text == "pc")
    assert pc.heading == expected


# --- defect 4: DOCX speed -------------------------------------------------------------------


def test_many_unstyled_docx_paragraphs_look_styles_up_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """python-docx's per-paragraph style lookup cost 1.5-3 ms a paragraph (a 1,000-page
    document took 83 s): heading levels come from a table of the styles, built once."""
    from copy import deepcopy

    import docx
    from docx.styles import BabelFish
    from docx.text.paragraph import Paragraph

    document = docx.Document()
    paragraph = document.add_paragraph("a")._p
    for _ in range(3_999):
        paragraph.addnext(deepcopy(paragraph))
    document.save(str(tmp_path / "paras.docx"))

    def no_lookup(_self: object) -> None:
        raise AssertionError("looked up a paragraph's style")

    lookups: list[str] = []
    real = BabelFish.internal2ui

    def counted(name: str) -> str:
        lookups.append(name)
        return real(name)

    monkeypatch.setattr(Paragraph, "style", property(no_lookup))
    monkeypatch.setattr(BabelFish, "internal2ui", staticmethod(counted))
    result = extract(tmp_path / "paras.docx", CAP)
    assert result.status == EXTRACTED
    assert len(result.pieces) == 4_000
    styles = len(document.styles.element.findall(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}style"))
    assert len(lookups) <= styles  # one per paragraph style, not one per paragraph


# --- defect 5: EPUB with a lost item ----------------------------------------------------------


def test_epub_missing_image_or_chapter_keeps_the_rest(tmp_path: Path) -> None:
    base = write_book(tmp_path / "base.epub", chapters=3)

    def add_image(name: str, data: bytes) -> bytes:
        if name.endswith(".opf"):
            return data.replace(b"</manifest>", b'<item id="img" href="img.png" '
                                b'media-type="image/png"/></manifest>')
        return data

    lost_image = rewrite(base, tmp_path / "lost_image.epub", add_image)
    assert texts(lost_image) == ["C1", "text 1", "C2", "text 2", "C3", "text 3"]
    lost_chapter = rewrite(base, tmp_path / "lost_chapter.epub",
                           lambda n, d: None if n.endswith("c2.xhtml") else d)
    result = extract(lost_chapter, CAP)
    assert [(p.text, p.page) for p in result.pieces] == [
        ("C1", 1), ("text 1", 1), ("C3", 3), ("text 3", 3)]


def test_epub_without_its_package_file_fails(tmp_path: Path) -> None:
    base = write_book(tmp_path / "base.epub")
    broken = rewrite(base, tmp_path / "no_opf.epub", lambda n, d: None if n.endswith(".opf")
                     else d)
    result = extract(broken, CAP)
    assert result.status == FAILED
    assert "epub" in result.reason


# --- defect 6: content controls and merged cells ----------------------------------------------


def test_docx_content_controls_and_merged_cells(tmp_path: Path) -> None:
    import docx
    from docx.oxml import parse_xml

    namespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    document.add_paragraph("plain paragraph")
    block = parse_xml(f"<w:sdt {namespace}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>inside a "
                      "content control</w:t></w:r></w:p></w:sdtContent></w:sdt>")
    document.element.body.insert(1, block)
    inline = document.add_paragraph("before ")._p
    inline.append(parse_xml(f"<w:sdt {namespace}><w:sdtContent><w:r><w:t>inline control</w:t>"
                            "</w:r></w:sdtContent></w:sdt>"))
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "merged"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "tall"
    table.cell(1, 1).text = "b1"
    table.cell(2, 1).text = "b2"
    document.save(str(tmp_path / "sdt.docx"))
    assert texts(tmp_path / "sdt.docx") == [
        "plain paragraph", "inside a content control", "before inline control",
        "merged", "tall | b1", "b2"]


# --- defect 7: a location for every piece ------------------------------------------------------


def test_pieces_before_the_first_heading_have_a_paragraph_range(tmp_path: Path) -> None:
    import docx
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = docx.Document()
    document.add_paragraph("Intro before any heading.")
    document.add_heading("Chapter 1", 1)
    document.add_paragraph("c1 text")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "a"
    table.cell(0, 1).text = "b"
    document.save(str(tmp_path / "loc.docx"))
    pieces = extract(tmp_path / "loc.docx", CAP).pieces
    assert [(p.text, p.heading, p.line_start, p.line_end) for p in pieces] == [
        ("Intro before any heading.", (), 1, 1), ("Chapter 1", ("Chapter 1",), 2, 2),
        ("c1 text", ("Chapter 1",), 3, 3), ("a | b", ("Chapter 1",), 4, 5)]

    odt = OpenDocumentText()
    odt.text.addElement(P(text="odt intro"))
    odt.text.addElement(H(outlinelevel=1, text="OH1"))
    odt.save(str(tmp_path / "loc.odt"))
    pieces = extract(tmp_path / "loc.odt", CAP).pieces
    assert [(p.text, p.heading, p.line_start) for p in pieces] == [
        ("odt intro", (), 1), ("OH1", ("OH1",), 2)]


# --- text outside the body's paragraphs: text boxes, notes, headers and footers ---------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
REL_FOOTNOTES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
REL_ENDNOTES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/endnotes"


def text_box_run(text: str) -> str:
    """A run anchoring a text box as Word writes it: once for new readers (a DrawingML shape)
    and once for old ones (a VML fallback)."""
    content = f"<w:txbxContent><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:txbxContent>"
    return (
        f'<w:r xmlns:w="{W_NS}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
        'xmlns:v="urn:schemas-microsoft-com:vml">'
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx>'
        f"{content}</wps:txbx></wps:wsp></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict><v:shape><v:textbox>{content}</v:textbox></v:shape></w:pict>"
        "</mc:Fallback></mc:AlternateContent></w:r>")


def notes_part(tag: str, *texts: str) -> bytes:
    separators = "".join(f'<w:{tag} w:type="{kind}" w:id="{n}"><w:p><w:r><w:separator/>'
                         f"</w:r></w:p></w:{tag}>"
                         for n, kind in ((-1, "separator"), (0, "continuationSeparator")))
    notes = "".join(f'<w:{tag} w:id="{n}"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:{tag}>'
                    for n, text in enumerate(texts, start=1))
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:{tag}s xmlns:w="{W_NS}">{separators}{notes}</w:{tag}s>').encode()


def with_notes(src: Path, dst: Path, footnotes: tuple[str, ...], endnotes: tuple[str, ...]
               ) -> Path:
    """``src`` with a footnotes and an endnotes part, related to the document."""
    rels = (f'<Relationship Id="rIdF1" Type="{REL_FOOTNOTES}" Target="footnotes.xml"/>'
            f'<Relationship Id="rIdE1" Type="{REL_ENDNOTES}" Target="endnotes.xml"/>')
    overrides = ''.join(
        f'<Override PartName="/word/{name}s.xml" ContentType="application/vnd.openxmlformats-'
        f'officedocument.wordprocessingml.{name}s+xml"/>' for name in ("footnote", "endnote"))

    def edit(name: str, data: bytes) -> bytes:
        if name == "word/_rels/document.xml.rels":
            return data.replace(b"</Relationships>", rels.encode() + b"</Relationships>")
        if name == "[Content_Types].xml":
            return data.replace(b"</Types>", overrides.encode() + b"</Types>")
        return data

    rewrite(src, dst, edit)
    with zipfile.ZipFile(dst, "a") as out:
        out.writestr("word/footnotes.xml", notes_part("footnote", *footnotes))
        out.writestr("word/endnotes.xml", notes_part("endnote", *endnotes))
    return dst


def test_docx_text_boxes_notes_headers_and_footers(tmp_path: Path) -> None:
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_heading("Plan", 1)
    anchor = document.add_paragraph("The diagram shows the flow.")
    anchor._p.append(parse_xml(text_box_run("boxed caption")))
    document.add_paragraph("After the box.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Project Lighthouse, confidential"
    section.footer.paragraphs[0].text = "7"  # a page number: nothing to search for
    section.different_first_page_header_footer = True
    section.first_page_header.paragraphs[0].text = "Project Lighthouse, confidential"
    section.first_page_footer.paragraphs[0].text = "Draft for review"
    document.save(str(tmp_path / "base.docx"))
    path = with_notes(tmp_path / "base.docx", tmp_path / "notes.docx",
                      footnotes=("See the 2024 audit.", "Figures are rounded."),
                      endnotes=("Thanks to the night shift.",))
    result = extract(path, CAP)
    assert result.status == EXTRACTED
    assert [(p.text, p.heading, p.line_start) for p in result.pieces] == [
        ("Plan", ("Plan",), 1),
        ("The diagram shows the flow.", ("Plan",), 2),
        ("boxed caption", ("Plan",), 2),  # once, cited as the paragraph it is anchored in
        ("After the box.", ("Plan",), 3),
        ("See the 2024 audit.", ("Footnotes",), None),
        ("Figures are rounded.", ("Footnotes",), None),
        ("Thanks to the night shift.", ("Endnotes",), None),
        ("Project Lighthouse, confidential", ("Header",), None),
        ("Draft for review", ("Footer",), None),
    ]


def test_docx_text_boxes_in_table_cells(tmp_path: Path) -> None:
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_paragraph("Before the table.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Stage"
    table.cell(0, 1).text = "Owner"
    table.cell(1, 0).text = "Review"
    table.cell(1, 1).paragraphs[0]._p.append(parse_xml(text_box_run("sticky note on Lena")))
    inner = table.cell(1, 0).add_table(rows=1, cols=1)  # a table in a cell, its box too
    inner.cell(0, 0).paragraphs[0]._p.append(parse_xml(text_box_run("nested box")))
    document.add_paragraph("After the table.")
    document.save(str(tmp_path / "boxes.docx"))
    result = extract(tmp_path / "boxes.docx", CAP)
    assert result.status == EXTRACTED
    assert [(p.text, p.line_start, p.line_end) for p in result.pieces] == [
        ("Before the table.", 1, 1),
        ("Stage | Owner", 2, 3),
        ("Review", 4, 7),
        # once each (Word writes a box twice), cited as the row they are anchored in
        ("nested box", 4, 7),
        ("sticky note on Lena", 4, 7),
        ("After the table.", 8, 8),
    ]


def test_docx_body_comes_first_when_the_cap_is_reached(tmp_path: Path) -> None:
    path = with_notes(base_docx(tmp_path / "base.docx", "body text " * 15),
                      tmp_path / "capped.docx", footnotes=("a footnote",), endnotes=())
    result = extract(path, 100)
    assert [p.heading for p in result.pieces] == [()]
    assert result.truncated
