"""HTML: the main text (``main``/``article``/body minus navigation, scripts and forms), with
the heading path of each block. BeautifulSoup over lxml; also used for EPUB chapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped
from app.core.memory.extract.text import NotText, read_text

HTML_EXTENSIONS = (".html", ".htm", ".xhtml")
_DROP = ("script", "style", "nav", "header", "footer", "aside", "noscript", "form", "template",
         "svg", "iframe", "button", "select")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = frozenset((*_HEADINGS, "p", "li", "pre", "blockquote", "tr", "dt", "dd",
                     "figcaption", "caption"))


def html_pieces(markup: str, buffer: PieceBuffer, base: tuple[str, ...] = ()) -> None:
    """Add the main-text blocks of ``markup`` to ``buffer``; headings under ``base``."""
    import warnings

    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():  # XHTML (EPUB chapters) parses fine as HTML
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(markup, "lxml")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    root: Any = soup.find("main") or soup.find("article") or soup.body or soup
    trail: list[str] = []
    found = False
    for element in root.find_all(True):
        if buffer.full:
            break
        if element.name not in _BLOCKS or any(p.name in _BLOCKS for p in element.parents):
            continue
        text = element.get_text(" | " if element.name == "tr" else " ", strip=True)
        if element.name == "pre":
            text = element.get_text()
        if not text.strip():
            continue
        found = True
        if element.name in _HEADINGS:
            level = int(element.name[1])
            del trail[level - 1 :]
            trail.extend([""] * (level - 1 - len(trail)))
            trail.append(" ".join(text.split()))
        heading = (*base, *(t for t in trail if t))
        buffer.add(Piece(text, heading=heading))
    if not found:
        text = root.get_text("\n", strip=True)
        if text:
            buffer.add(Piece(text, heading=base))


def title_of(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    return soup.title.get_text(strip=True) if soup.title else ""


def extract_html(path: Path, max_chars: int) -> Extraction:
    try:
        markup, truncated = read_text(path, max_chars * 4)
    except NotText as exc:
        return skipped(str(exc))
    buffer = PieceBuffer(max_chars)
    html_pieces(markup, buffer)
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()
