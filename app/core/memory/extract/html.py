"""HTML: the main text (``main``/``article``/body minus navigation, scripts and forms), with
the heading path of each block and, for an .html file, its source line range. Also used for
EPUB chapters and HTML mail bodies.

Parsed as a stream by lxml's HTML pull parser: each element is cleared once its end tag has
been seen, so parsing costs memory for the open elements only, not a tree of the whole page
(BeautifulSoup's tree took about 140 times the file's size). At most ``HTML_MAX_BYTES`` of
markup, and at most 4 characters of markup per character kept, are read from a file; a longer
file is parsed up to there and flagged truncated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, failed, skipped
from app.core.memory.extract.text import NotText, read_text

HTML_EXTENSIONS = (".html", ".htm", ".xhtml")
HTML_MAX_BYTES = 32 * 1024 * 1024
MARKUP_PER_CHAR = 4
_FEED_CHARS = 64 * 1024
# libxml2's nesting limit under huge_tree. An element deeper than that halts the parser: older
# lxml then leaves the open elements unended, newer lxml (6.2) ends them all at close.
_MAX_DEPTH = 2_048
_DROP = frozenset(("script", "style", "nav", "header", "footer", "aside", "noscript", "form",
                   "template", "svg", "iframe", "button", "select"))
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = frozenset((*_HEADINGS, "p", "li", "pre", "blockquote", "tr", "dt", "dd",
                     "figcaption", "caption"))
# Text outside the blocks (straight in a div, a td, the body: HTML mail writes one div a line)
# is a block of its own, ended by any element that is not one of these.
_INLINE = frozenset(("a", "abbr", "acronym", "b", "bdi", "bdo", "big", "br", "cite", "code",
                     "data", "del", "dfn", "em", "font", "i", "img", "ins", "kbd", "label",
                     "mark", "nobr", "q", "s", "samp", "small", "span", "strike", "strong",
                     "sub", "sup", "time", "tt", "u", "var", "wbr"))
# Where the main text is looked for, best first: the first <main>, the first <article>, body.
_ROOTS = ("main", "article", "body")


@dataclass
class _Root:
    """The blocks found inside one candidate root, within the room left in the buffer."""

    buffer: PieceBuffer
    state: str = "before"  # before, inside, after (only the first element of its kind)
    trail: list[str] = field(default_factory=list)


@dataclass
class _Block:
    tag: str  # "" for text outside the blocks
    line: int | None
    strings: list[str] = field(default_factory=list)
    end: int | None = None  # the last line with text, for text outside the blocks


class _Walker:
    """Turns the parser's start/end events into blocks for each candidate root.

    The text before an event is complete when the event is read: at the start of X it is the
    tail of X's previous sibling (or its parent's text), at the end of X the tail of X's last
    child (or X's text). So every text node is taken once, in document order, and an element
    can be cleared as soon as it ends."""

    def __init__(self, room: int, base: tuple[str, ...], with_lines: bool):
        self.roots = {name: _Root(PieceBuffer(room)) for name in _ROOTS}
        self.base = base
        self.with_lines = with_lines
        self.drop_depth = 0
        self.block: _Block | None = None
        self.block_depth = 0
        self.loose: _Block | None = None  # text outside the blocks since the last boundary
        self.line: int | None = None
        self.open = 0  # elements started and not ended: left open when the parser gave up
        self.deepest = 0  # the most elements open at once: past _MAX_DEPTH the parser gave up

    def finish(self) -> None:
        """A block still open when the parser stopped (e.g. nesting too deep) is kept."""
        self._end_loose()
        if self.block is not None and not self.drop_depth:
            self._add_block(self.block)
        self.block = None

    def done(self) -> bool:
        main = self.roots["main"]
        return main.state == "after" or (main.state == "inside" and main.buffer.full)

    def gave_up(self) -> bool:
        """The parser stopped before the end of the markup (nesting too deep)."""
        return self.open > 0 or self.deepest > _MAX_DEPTH

    def start(self, element: Any) -> None:
        self.open += 1
        self.deepest = max(self.deepest, self.open)
        previous = element.getprevious()
        parent = element.getparent()
        self._text(previous.tail if previous is not None else
                   parent.text if parent is not None else None)
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag not in _INLINE:
            self._end_loose()
        elif tag == "br" and not self.drop_depth:
            target = self.block or self.loose
            if target is not None:
                target.strings.append("\n")
        self.line = element.sourceline
        if self.drop_depth or tag in _DROP:
            self.drop_depth += 1
            return
        if tag in _ROOTS and self.roots[tag].state == "before":
            self.roots[tag].state = "inside"
            # A <main> outranks the others, an <article> the body: stop collecting for them.
            for lesser in _ROOTS[_ROOTS.index(tag) + 1 :]:
                self.roots[lesser].state = "after"
                self.roots[lesser].buffer = PieceBuffer(0)
        if tag in _BLOCKS:
            if self.block is None:
                self.block = _Block(tag, element.sourceline)
            self.block_depth += 1

    def end(self, element: Any) -> None:
        self.open -= 1
        children = len(element)
        self._text(element[children - 1].tail if children else element.text)
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag not in _INLINE:
            self._end_loose()
        if self.drop_depth:
            self.drop_depth -= 1
        else:
            if tag in _BLOCKS:
                self.block_depth -= 1
                if self.block_depth == 0 and self.block is not None:
                    self._add_block(self.block)
                    self.block = None
            if tag in _ROOTS and self.roots[tag].state == "inside":
                self.roots[tag].state = "after"
        # Done with this element: keep its tail (read at the next event), free the rest.
        element.clear(keep_tail=True)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]

    def _text(self, text: str | None) -> None:
        if not text:
            return
        line = self.line
        if self.line is not None:
            self.line += text.count("\n")
        if self.drop_depth:
            return
        if self.block is not None:
            self.block.strings.append(text)
            return
        stripped = text.strip()
        if not stripped:
            return
        if self.loose is None:
            first = None if line is None else line + text[: text.index(stripped)].count("\n")
            self.loose = _Block("", first)
        self.loose.strings.append(text)
        if line is not None:
            self.loose.end = line + text.rstrip().count("\n")

    def _end_loose(self) -> None:
        if self.loose is not None:
            self._add_block(self.loose)
            self.loose = None

    def _inside(self) -> Iterator[_Root]:
        return (root for root in self.roots.values() if root.state == "inside")

    def _add_block(self, block: _Block) -> None:
        if block.tag == "pre":
            text = "".join(block.strings)
        elif block.tag == "tr":
            text = " | ".join(s.strip() for s in block.strings if s.strip())
        else:  # as a browser shows it: spaces collapsed, lines kept
            rows = "".join(block.strings).split("\n")
            text = "\n".join(" ".join(row.split()) for row in rows if row.strip())
        if not text.strip():
            return
        lines: tuple[int | None, int | None] = (None, None)
        if self.with_lines and block.line is not None:
            end = block.end if block.end is not None else self.line
            lines = (block.line, max(block.line, end or block.line))
        for root in self._inside():
            if block.tag in _HEADINGS:
                level = int(block.tag[1])
                del root.trail[level - 1 :]
                root.trail.extend([""] * (level - 1 - len(root.trail)))
                root.trail.append(" ".join(text.split()))
            heading = (*self.base, *(t for t in root.trail if t))
            root.buffer.add(Piece(text, heading=heading, line_start=lines[0],
                                  line_end=lines[1]))

    def chosen(self) -> _Root:
        for name in _ROOTS:
            if self.roots[name].state != "before":
                return self.roots[name]
        return self.roots["body"]


def html_pieces(markup: str, buffer: PieceBuffer, base: tuple[str, ...] = (),
                with_lines: bool = False) -> bool:
    """Add the main-text blocks of ``markup`` to ``buffer``; headings under ``base``;
    ``with_lines``: cite each block by its line range in ``markup``. False when the parser
    gave up before the end (nesting deeper than 2,048 elements): the buffer is then flagged
    truncated."""
    from lxml import etree

    # huge_tree: nesting up to 2,048 elements deep (256 otherwise); the markup is bounded.
    parser = etree.HTMLPullParser(events=("start", "end"), remove_comments=True,
                                  remove_pis=True, no_network=True, huge_tree=True)
    walker = _Walker(max(buffer.max_chars - buffer.used, 0), base, with_lines)
    for offset in range(0, len(markup), _FEED_CHARS):
        parser.feed(markup[offset : offset + _FEED_CHARS])
        _run(parser, walker)
        if walker.done():
            break
    else:
        try:
            parser.close()
        except etree.XMLSyntaxError:  # nothing parsable, e.g. only whitespace
            pass
        _run(parser, walker)
    # Else the parser gave up before the end (nesting too deep).
    complete = walker.done() or not walker.gave_up()
    buffer.truncated = buffer.truncated or not complete
    walker.finish()
    root = walker.chosen()
    # The pieces were cleaned and cut to the room left by root.buffer: move them over.
    buffer.pieces.extend(root.buffer.pieces)
    buffer.used += root.buffer.used
    buffer.truncated = buffer.truncated or root.buffer.truncated
    return complete


def _run(parser: Any, walker: _Walker) -> None:
    for event, element in parser.read_events():
        if event == "start":
            walker.start(element)
        else:
            walker.end(element)


def title_of(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    return soup.title.get_text(strip=True) if soup.title else ""


def extract_html(path: Path, max_chars: int) -> Extraction:
    markup_chars = min(MARKUP_PER_CHAR * max_chars, HTML_MAX_BYTES // 4)
    try:  # read_text reads at most 4 bytes a character: HTML_MAX_BYTES at most
        markup, truncated = read_text(path, markup_chars)
    except NotText as exc:
        return skipped(str(exc))
    buffer = PieceBuffer(max_chars)
    complete = html_pieces(markup, buffer, with_lines=True)
    if not complete and not buffer.pieces:
        return failed("html file nested too deeply")
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()
