"""Word processor and slide documents: DOCX (python-docx), PPTX (python-pptx), ODT (odfpy).

DOCX and ODT keep the heading path from heading styles / outline levels; PPTX cites the slide
number as the page and the slide title as the heading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer

DOCX_EXTENSIONS = (".docx",)
PPTX_EXTENSIONS = (".pptx",)
ODT_EXTENSIONS = (".odt",)


def _heading_level(style_name: str) -> int | None:
    name = style_name.lower()
    if name == "title":
        return 1
    if name.startswith("heading "):
        tail = name.split(" ", 1)[1]
        return int(tail) if tail.isdigit() else None
    return None


def _push(trail: list[str], level: int, title: str) -> tuple[str, ...]:
    del trail[level - 1 :]
    trail.extend([""] * (level - 1 - len(trail)))
    trail.append(title)
    return tuple(t for t in trail if t)


def extract_docx(path: Path, max_chars: int) -> Extraction:
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    buffer = PieceBuffer(max_chars)
    trail: list[str] = []
    heading: tuple[str, ...] = ()
    for block in document.iter_inner_content():
        if buffer.full:
            break
        if isinstance(block, Table):
            for row in block.rows:
                cells = [c.text.strip() for c in row.cells]
                if not buffer.add(Piece(" | ".join(c for c in cells if c), heading=heading)):
                    break
            continue
        text = block.text.strip()
        level = _heading_level(block.style.name if block.style is not None else "")
        if level is not None and text:
            heading = _push(trail, level, text)
        buffer.add(Piece(text, heading=heading))
    return buffer.result()


def extract_pptx(path: Path, max_chars: int) -> Extraction:
    from pptx import Presentation

    deck = Presentation(str(path))
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
        return [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
    if shape.shape_type == 6:  # a group: its members
        return [t for member in shape.shapes for t in _shape_texts(member)]
    return []


def extract_odt(path: Path, max_chars: int) -> Extraction:
    from odf import teletype
    from odf.opendocument import load

    document = load(str(path))
    buffer = PieceBuffer(max_chars)
    trail: list[str] = []
    heading: tuple[str, ...] = ()
    for element in _odt_blocks(document.text):
        if buffer.full:
            break
        content = teletype.extractText(element).strip()
        if element.qname[1] == "h":
            level = int(element.getAttribute("outlinelevel") or 1)
            if content:
                heading = _push(trail, level, content)
        buffer.add(Piece(content, heading=heading))
    return buffer.result()


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
