"""EPUB books (ebooklib): chapters in spine order, each through the HTML extractor, cited by
chapter number (as the page) and the chapter's heading path.

ebooklib reads every manifest item into memory, so it reads through ``_reader``: media come
back empty, text parts within the ``archive`` limits, and an item the manifest lists but the
zip lacks (a lost image or chapter) comes back empty instead of failing the whole book."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from app.core.memory.extract import archive
from app.core.memory.extract.base import Extraction, PieceBuffer, skipped
from app.core.memory.extract.html import html_pieces

EPUB_EXTENSIONS = (".epub",)
MAX_CHAPTER_BYTES = 8 * 1024 * 1024
_CONTAINER = "META-INF/container.xml"


def _reader(path: Path) -> Any:
    """An ebooklib reader whose ``read_file`` keeps memory bounded and tolerates lost items."""
    import posixpath

    from ebooklib import epub

    budget = archive.TextBudget("epub")

    class GuardedReader(epub.EpubReader):  # type: ignore[misc]
        def read_file(self, name: str) -> bytes:
            zf: zipfile.ZipFile = self.zf
            name = posixpath.normpath(name)
            try:
                info = zf.getinfo(name)
            except KeyError:
                if name in (_CONTAINER, posixpath.normpath(self.opf_file or _CONTAINER)):
                    raise  # no container or package file: not a readable book
                return b""
            if archive.is_media(zf, info):
                return b""
            return budget.read(zf, info)

    return GuardedReader(str(path), {"ignore_ncx": True})


def extract_epub(path: Path, max_chars: int) -> Extraction:
    import warnings

    import ebooklib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _reader(path)
        book = reader.load()
        reader.process()
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
