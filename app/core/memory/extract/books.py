"""EPUB books (ebooklib): chapters in spine order, each through the HTML extractor, cited by
chapter number (as the page) and the chapter's heading path."""

from __future__ import annotations

from pathlib import Path

from app.core.memory.extract.base import Extraction, PieceBuffer, skipped
from app.core.memory.extract.html import html_pieces

EPUB_EXTENSIONS = (".epub",)
MAX_CHAPTER_BYTES = 8 * 1024 * 1024


def extract_epub(path: Path, max_chars: int) -> Extraction:
    import warnings

    import ebooklib
    from ebooklib import epub

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = epub.read_epub(str(path), options={"ignore_ncx": True})
    buffer = PieceBuffer(max_chars)
    documents = {item.get_id(): item for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT)}
    order = [idref for idref, _linear in book.spine if idref in documents]
    order += [i for i in documents if i not in order]
    for number, item_id in enumerate(order, start=1):
        if buffer.full:
            buffer.truncated = True
            break
        content = documents[item_id].get_content()
        if len(content) > MAX_CHAPTER_BYTES:
            content = content[:MAX_CHAPTER_BYTES]
            buffer.truncated = True
        before = len(buffer.pieces)
        html_pieces(content.decode("utf-8", errors="replace"), buffer)
        # Cite the chapter as the page: renumber the pieces this chapter added.
        for index in range(before, len(buffer.pieces)):
            piece = buffer.pieces[index]
            buffer.pieces[index] = type(piece)(piece.text, number, piece.heading,
                                               piece.line_start, piece.line_end)
    if not buffer.pieces:
        return skipped("no text in this book")
    return buffer.result()
