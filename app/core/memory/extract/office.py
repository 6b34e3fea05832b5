"""Word processor and slide documents: DOCX (python-docx), PPTX (python-pptx), ODT (odfpy).

DOCX and ODT keep the heading path from heading styles / outline levels (clamped to
``MAX_HEADING_LEVEL``) and cite paragraphs by number as the line range (a table row: the
range of its paragraphs), so text before the first heading still has a location. A DOCX
also gives the text boxes anchored in a paragraph or a table row (cited as that paragraph or
row), then its footnotes and endnotes (headings "Footnotes", "Endnotes") and the text of its
headers and footers (each distinct text once, under "Header" / "Footer"). PPTX cites the
slide number as the page and the slide title as the heading. Each package is
checked first (``archive``): text parts are size-limited, big media are emptied. An ODT with
a part that is not well-formed XML is damaged (odfpy would skip the part, and print it); an
ODT's notes, like a DOCX's, come after its body, under "Footnotes" and "Endnotes"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.memory.extract import archive
from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, failed

DOCX_EXTENSIONS = (".docx",)
PPTX_EXTENSIONS = (".pptx",)
ODT_EXTENSIONS = (".odt",)
MAX_HEADING_LEVEL = 10
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _clamp_level(value: object) -> int:
    """A heading level from a style name or an attribute: 1..MAX_HEADING_LEVEL, else 1."""
    try:
        level = int(str(value).strip())
    except ValueError:
        return 1
    return min(max(level, 1), MAX_HEADING_LEVEL)


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 1
    if name.startswith("heading "):
        tail = name.split(" ", 1)[1].strip()
        return _clamp_level(tail) if tail.isdigit() else None
    return None


def _push(trail: list[str], level: int, title: str) -> tuple[str, ...]:
    del trail[level - 1 :]
    trail.extend([""] * (level - 1 - len(trail)))
    trail.append(title)
    return tuple(t for t in trail if t)


# --- DOCX -------------------------------------------------------------------------------


class _Docx:
    """Walks the body XML python-docx parsed: paragraphs, tables and content controls in
    document order. Heading levels are looked up once per style id, not per paragraph."""

    def __init__(self, document: Any):
        from docx.oxml.ns import qn

        self.qn = qn
        self.p, self.tbl, self.tr, self.tc = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
        self.r, self.t, self.val = qn("w:r"), qn("w:t"), qn("w:val")
        self.wrappers = {qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")}
        self.inline = self.wrappers | {qn(f"w:{tag}") for tag in (
            "hyperlink", "ins", "smartTag", "fldSimple", "moveTo", "dir", "bdo")}
        self.run_chars = {qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n",
                          qn("w:noBreakHyphen"): "-"}
        self.levels, self.default_level = self._style_levels(document)
        self.paragraphs = 0
        # A text box is written twice, for new readers (mc:Choice) and old ones (mc:Fallback).
        self.fallback = f"{{{_MC}}}Fallback"

    def _style_levels(self, document: Any) -> tuple[dict[str, int | None], int | None]:
        from docx.styles import BabelFish

        qn = self.qn
        levels: dict[str, int | None] = {}
        default: int | None = None
        for style in document.styles.element.iterchildren(qn("w:style")):
            if style.get(qn("w:type"), "paragraph") != "paragraph":
                continue
            name_el = style.find(qn("w:name"))
            name = BabelFish.internal2ui(name_el.get(self.val, "")) if name_el is not None else ""
            level = _heading_level(name)
            levels[style.get(qn("w:styleId"), "")] = level
            if style.get(qn("w:default")) in ("1", "true", "on"):
                default = level
        return levels, default

    def level_of(self, p: Any) -> int | None:
        ppr = p.find(self.qn("w:pPr"))
        style = ppr.find(self.qn("w:pStyle")) if ppr is not None else None
        if style is None:
            return self.default_level
        return self.levels.get(style.get(self.val, ""))

    def children(self, element: Any, tags: tuple[str, ...]) -> Iterator[Any]:
        """Children with one of ``tags``, looking through content controls."""
        for child in element.iterchildren():
            if child.tag in tags:
                yield child
            elif child.tag in self.wrappers:
                yield from self.children(child, tags)

    def text(self, p: Any, room: int, count: bool = True) -> str:
        """The paragraph's text, runs inside links, content controls and insertions included;
        stops once ``room`` characters are collected. ``count``: a paragraph of the body, which
        the paragraph numbers count (not one in a text box, a note, a header or a footer)."""
        if count:
            self.paragraphs += 1
        parts: list[str] = []
        size = 0
        stack = [p.iterchildren()]
        while stack:
            for child in stack[-1]:
                if child.tag == self.r:
                    for node in child.iterchildren():
                        piece = (node.text or "") if node.tag == self.t else \
                            self.run_chars.get(node.tag, "")
                        parts.append(piece)
                        size += len(piece)
                    if size > room:
                        return "".join(parts)
                elif child.tag in self.inline:
                    stack.append(child.iterchildren())
                    break
            else:
                stack.pop()
        return "".join(parts)

    def paragraphs_under(self, root: Any) -> Iterator[Any]:
        """The paragraphs below ``root`` (a body paragraph's text boxes, a note, a header),
        text boxes nested in them included, each once: a box's fallback copy is skipped."""
        for para in root.iterdescendants(self.p):
            if next(para.iterancestors(self.fallback), None) is None:
                yield para

    def boxes_in_row(self, tr: Any) -> Iterator[Any]:
        """The paragraphs of the text boxes anchored in a table row's cells (a paragraph
        inside another paragraph), each once; the cells' own paragraphs are ``row_text``'s."""
        for para in self.paragraphs_under(tr):
            if next(para.iterancestors(self.p), None) is not None:
                yield para

    def story_text(self, root: Any, room: int) -> str:
        """The text of every paragraph under ``root`` (a note), one per line."""
        texts = (self.text(para, room, count=False).strip()
                 for para in self.paragraphs_under(root))
        return "\n".join(t for t in texts if t)

    def cell_text(self, tc: Any, room: int) -> str:
        texts: list[str] = []
        for block in self.children(tc, (self.p, self.tbl)):
            if block.tag == self.p:
                texts.append(self.text(block, room).strip())
            else:
                texts.extend(self.row_text(tr, room) for tr in self.children(block, (self.tr,)))
        return " ".join(t for t in texts if t)

    def row_text(self, tr: Any, room: int) -> str:
        cells = []
        vmerge = self.qn("w:vMerge")
        for tc in self.children(tr, (self.tc,)):
            tcpr = tc.find(self.qn("w:tcPr"))
            merge = tcpr.find(vmerge) if tcpr is not None else None
            if merge is not None and merge.get(self.val, "continue") == "continue":
                continue  # the lower part of a vertically merged cell: printed above
            cells.append(self.cell_text(tc, room))
        return " | ".join(c for c in cells if c)


def extract_docx(path: Path, max_chars: int) -> Extraction:
    import docx

    document = docx.Document(archive.package_source(path, "docx"))
    walker = _Docx(document)
    buffer = PieceBuffer(max_chars)
    trail: list[str] = []
    heading: tuple[str, ...] = ()
    for block in walker.children(document.element.body, (walker.p, walker.tbl)):
        if buffer.full:
            break
        room = buffer.max_chars - buffer.used
        if block.tag == walker.tbl:
            for tr in walker.children(block, (walker.tr,)):
                first = walker.paragraphs + 1
                row = walker.row_text(tr, room)
                last = max(first, walker.paragraphs)
                if not buffer.add(Piece(row, heading=heading, line_start=first, line_end=last)):
                    break
                for para in walker.boxes_in_row(tr):  # cited as the row they are anchored in
                    buffer.add(Piece(walker.text(para, buffer.max_chars - buffer.used,
                                                 count=False).strip(),
                                     heading=heading, line_start=first, line_end=last))
            continue
        text = walker.text(block, room).strip()
        level = walker.level_of(block)
        if level is not None and text:
            heading = _push(trail, level, text)
        number = walker.paragraphs
        buffer.add(Piece(text, heading=heading, line_start=number, line_end=number))
        for para in walker.paragraphs_under(block):
            buffer.add(Piece(walker.text(para, buffer.max_chars - buffer.used, count=False)
                             .strip(), heading=heading, line_start=number, line_end=number))
    for text, heading in _docx_stories(document, walker, buffer):
        if buffer.full:
            buffer.truncated = True
            break
        buffer.add(Piece(text, heading=heading))
    return buffer.result()


def _docx_stories(document: Any, walker: _Docx, buffer: PieceBuffer
                  ) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Footnotes, endnotes, then headers and footers: (text, heading) each."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.parser import parse_xml
    from lxml import etree

    for reltype, tag, title in ((RT.FOOTNOTES, "w:footnote", "Footnotes"),
                                (RT.ENDNOTES, "w:endnote", "Endnotes")):
        try:
            root = parse_xml(document.part.part_related_by(reltype).blob)
        except (KeyError, etree.XMLSyntaxError):  # none, or not readable: the body is kept
            continue
        for note in root.iterchildren(walker.qn(tag)):
            if note.get(walker.qn("w:type"), "normal") != "normal":
                continue  # the separator lines Word draws above the notes
            yield walker.story_text(note, buffer.max_chars - buffer.used), (title,)
    seen: set[tuple[str, str]] = set()
    for section in document.sections:
        for kind, title in _HEADERS_FOOTERS:
            part = getattr(section, kind)
            if part.is_linked_to_previous:  # no text of its own: the previous section's
                continue
            for para in walker.paragraphs_under(part.part.element):
                text = walker.text(para, buffer.max_chars - buffer.used, count=False).strip()
                # Page numbers and dates are no text to search for; repeated texts once.
                if any(c.isalpha() for c in text) and (title, text) not in seen:
                    seen.add((title, text))
                    yield text, (title,)


_HEADERS_FOOTERS = (("header", "Header"), ("first_page_header", "Header"),
                    ("even_page_header", "Header"), ("footer", "Footer"),
                    ("first_page_footer", "Footer"), ("even_page_footer", "Footer"))


# --- PPTX -------------------------------------------------------------------------------


def extract_pptx(path: Path, max_chars: int) -> Extraction:
    from pptx import Presentation

    deck = Presentation(archive.package_source(path, "pptx"))
    buffer = PieceBuffer(max_chars)
    for number, slide in enumerate(deck.slides, start=1):
        if buffer.full:
            break
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        heading = (title,) if title else ()
        for shape in slide.shapes:
            texts = _shape_texts(shape)
            for text in texts:
                buffer.add(Piece(text, page=number, heading=heading))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None:
                buffer.add(Piece(notes.text, page=number, heading=(*heading, "Notes")))
    return buffer.result()


def _shape_texts(shape: Any) -> list[str]:
    if getattr(shape, "has_text_frame", False):
        return [shape.text_frame.text]
    if getattr(shape, "has_table", False):
        rows = (" | ".join(c.text for c in row.cells if c.text.strip()) for row in shape.table.rows)
        return [row for row in rows if row]  # empty and merged-over cells left out, as in DOCX
    if shape.shape_type == 6:  # a group: its members
        return [t for member in shape.shapes for t in _shape_texts(member)]
    return []


# --- ODT --------------------------------------------------------------------------------


_odfpy = threading.local()  # .damaged: a part of the ODT being loaded did not parse


def _odfpy_print(*args: object, **_kwargs: object) -> None:
    """Stands in for ``print`` in odfpy's loading modules. odfpy prints the whole text of an
    XML part that does not parse (the user's words, on stdout, which may end up in a session
    log) and goes on without the part; this prints nothing and notes the damage."""
    if args and isinstance(args[0], str) and "FAILED TO PARSE" in args[0]:
        _odfpy.damaged = True


def _load_odt(path: Path) -> Any:
    """The odfpy document, or None when one of its XML parts does not parse."""
    from odf import load as odf_load
    from odf import opendocument

    for module in (opendocument, odf_load):  # module globals come before builtins
        vars(module)["print"] = _odfpy_print
    _odfpy.damaged = False
    document = opendocument.load(archive.package_source(path, "odt"))
    return None if _odfpy.damaged else document


def extract_odt(path: Path, max_chars: int) -> Extraction:
    document = _load_odt(path)
    if document is None:
        return failed("damaged odt file (a part is not well-formed XML)")
    buffer = PieceBuffer(max_chars)
    trail: list[str] = []
    heading: tuple[str, ...] = ()
    notes: list[tuple[str, str]] = []  # (class, text): read after the body, like DOCX's
    for number, element in enumerate(_odt_blocks(document.text), start=1):
        if buffer.full:
            break
        content = _odt_text(element, notes).strip()
        if element.qname[1] == "h":
            level = _clamp_level(element.getAttribute("outlinelevel") or 1)
            if content:
                heading = _push(trail, level, content)
        buffer.add(Piece(content, heading=heading, line_start=number, line_end=number))
    for kind, title in (("footnote", "Footnotes"), ("endnote", "Endnotes")):
        for note_class, text in notes:
            if buffer.full:
                buffer.truncated = True
                break
            if (note_class or "footnote") == kind:
                buffer.add(Piece(text.strip(), heading=(title,)))
    return buffer.result()


_ODT_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def _odt_text(element: Any, notes: list[tuple[str, str]]) -> str:
    """The text of ``element`` as odfpy's ``teletype.extractText`` gives it, except that a
    note (its number and its body) is not run into the sentence it is anchored in but put on
    ``notes``: "here1The note" would be one word to search."""
    parts: list[str] = []
    for child in element.childNodes:
        if child.nodeType == child.TEXT_NODE:
            parts.append(child.data)
            continue
        if child.nodeType != child.ELEMENT_NODE:
            continue
        namespace, name = child.qname
        if namespace != _ODT_TEXT_NS:
            parts.append(_odt_text(child, notes))
        elif name == "line-break":
            parts.append("\n")
        elif name == "tab":
            parts.append("\t")
        elif name == "s":
            parts.append(" " * _space_count(child.getAttribute("c")))
        elif name == "note":
            body = "".join(_odt_text(part, notes) + "\n" for part in child.childNodes
                           if getattr(part, "qname", None) == (_ODT_TEXT_NS, "note-body"))
            notes.append((child.getAttribute("noteclass") or "", body))
        else:
            parts.append(_odt_text(child, notes))
    return "".join(parts)


def _space_count(value: str | None) -> int:
    """A ``text:s`` element's count of spaces, within 1-100 (odfpy's own reader would make a
    string of any count it is given, two billion spaces included)."""
    try:
        return min(max(int(value or 1), 1), 100)
    except ValueError:
        return 1


def _odt_blocks(node: Any) -> Any:
    """Headings and paragraphs in document order (paragraphs inside lists and tables too)."""
    for child in node.childNodes:
        qname = getattr(child, "qname", None)
        if qname is None:
            continue
        if qname[1] in ("h", "p"):
            yield child
        else:
            yield from _odt_blocks(child)
