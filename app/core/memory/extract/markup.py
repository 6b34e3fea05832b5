"""Markup with headings: Markdown (markdown-it-py), reStructuredText (docutils), Org.

Each top-level block (paragraph, list, code block, table) becomes a piece carrying the heading
path above it and its source line range, so a hit can cite "notes.md > Setup > Linux".
"""

from __future__ import annotations

import re
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped
from app.core.memory.extract.text import NotText, paragraphs, read_text

MARKDOWN_EXTENSIONS = (".md", ".markdown", ".mdx", ".mkd")
REST_EXTENSIONS = (".rst", ".rest")
ORG_EXTENSIONS = (".org",)


def _set_heading(path: list[str], level: int, title: str) -> tuple[str, ...]:
    del path[level - 1 :]
    while len(path) < level - 1:
        path.append("")
    path.append(title.strip())
    return tuple(p for p in path if p)


def extract_markdown(path: Path, max_chars: int) -> Extraction:
    try:
        text, truncated = read_text(path, max_chars)
    except NotText as exc:
        return skipped(str(exc))
    from markdown_it import MarkdownIt

    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    buffer = PieceBuffer(max_chars)
    heading_path: list[str] = []
    current: tuple[str, ...] = ()
    index = 0
    while index < len(tokens) and not buffer.full:
        token = tokens[index]
        if token.level != 0 or token.map is None or token.nesting == -1:
            index += 1
            continue
        start, end = token.map
        if token.type == "heading_open":
            title = tokens[index + 1].content if index + 1 < len(tokens) else ""
            current = _set_heading(heading_path, int(token.tag[1:]), title)
            # The heading line is indexed with its section so a title search finds it.
            buffer.add(Piece(title, heading=current, line_start=start + 1, line_end=end))
        else:
            body = "\n".join(lines[start:end]).strip("\n")
            buffer.add(Piece(body, heading=current, line_start=start + 1, line_end=end))
        index += 1
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()


def extract_rest(path: Path, max_chars: int) -> Extraction:
    try:
        text, truncated = read_text(path, max_chars)
    except NotText as exc:
        return skipped(str(exc))
    buffer = _parse_rest(text, max_chars)
    if buffer is None:
        # Too deep or too slow for docutils: read as plain text, by paragraphs, without
        # headings, rather than not at all.
        buffer = PieceBuffer(max_chars)
        buffer.extend(paragraphs(text.split("\n")))
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()


# docutils hands every list, and every run of directives or comments, the rest of the input
# as a copy, so thousands of them alternating with paragraphs cost time quadratic in the
# file (16,000 in 128 KB: 14 s; 2 MB would take about an hour). Prose parses at about 1.5 MB
# a second here, so a parse still going after this long is given up on.
MAX_REST_PARSE_SECONDS = 30.0


class _ParseTimeout(Exception):
    pass


def _parse_rest(text: str, max_chars: int) -> PieceBuffer | None:
    """The pieces docutils finds in ``text``, or None when it is nested deeper than Python's
    recursion limit (each level of a list or block quote is a nested parse; a few hundred)
    or takes longer than MAX_REST_PARSE_SECONDS."""
    buffer = PieceBuffer(max_chars)
    try:
        _RestWalker(buffer).parse(text, first_line=1, trail=(), depth=0)
    except (RecursionError, _ParseTimeout):
        return None
    return buffer


# docutils' inline parser looks for the end of every inline start-string (a backquote, a
# star, a bar) in the rest of the paragraph, and tries a reference name ("a-b", "x:y") at
# every hyphen, colon or slash inside one, to the end of the name: a text costs up to its
# length times its starts. 116 KB with 20,000 unmatched backquotes took 11 s, a
# 240,000-character run of hyphenated words hours. A text over the first limit, or past the
# file's budget, keeps its inline markup as it is written (the text is the same but for
# the markup characters); the budget is far above prose, and a file spends at most about
# 5 s on it here. Counted, not timed, so a file always gives the same pieces.
MAX_INLINE_STEPS_PER_TEXT = 10_000_000
MAX_INLINE_STEPS_PER_FILE = 200_000_000
_INLINE_START = re.compile(r"[`*|]|[-:/](?=[^\W_])")


def inline_steps(text: str) -> int:
    """An upper bound of the steps docutils' inline parser spends on ``text``."""
    return len(text) * (1 + len(_INLINE_START.findall(text)))


class _InlineBudget:
    """What is left of a file's inline parsing budget, shared by its nested parses."""

    def __init__(self) -> None:
        self.left = MAX_INLINE_STEPS_PER_FILE

    def allows(self, text: str) -> bool:
        steps = inline_steps(text)
        if steps > MAX_INLINE_STEPS_PER_TEXT or steps > self.left:
            return False
        self.left -= steps
        return True


# Settings for every reST parse: no file is read (include, raw, csv-table/file), no message
# is printed, titles stay sections so every heading lands in the heading path, and code is
# not highlighted (Pygments took 16 s over one 500 KB line of a code block; the text is the
# same without it).
_REST_SETTINGS = {
    "report_level": 5, "halt_level": 5, "file_insertion_enabled": False,
    "raw_enabled": False, "input_encoding": "unicode", "warning_stream": False,
    "doctitle_xform": False, "sectsubtitle_xform": False, "docinfo_xform": False,
    "syntax_highlight": "none",
}
_TAB_WIDTH = 8  # docutils' default; source lines are expanded the same way to compare them
_UNKNOWN_DIRECTIVE = re.compile(r'^Unknown directive type "([^"]+)"\.$')
_DIRECTIVE_ERROR = re.compile(r'^Error in "([^"]+)" directive:')
_DIRECTIVE_OPTION = re.compile(r"^\s*:[^:\s][^:]*:(\s|$)")
# Unknown (mostly Sphinx) directives: content that is code is kept verbatim, content that is
# navigation is dropped; any other content is parsed as reST, so notes and versionadded keep
# their text. A code block rejected for a Sphinx-only option (``:linenos:``) keeps its code.
# Nothing named by a directive is ever read.
_VERBATIM_DIRECTIVES = frozenset((
    "code", "code-block", "sourcecode", "testcode", "testoutput", "doctest", "ipython",
    "jupyter-execute", "graphviz", "mermaid", "plantuml",
))
_SKIPPED_DIRECTIVES = frozenset(("toctree",))
_MAX_DIRECTIVE_DEPTH = 4  # unknown directives inside unknown directives, each parsed again


def _rest_parser(budget: _InlineBudget, deadline: float) -> Any:
    """docutils' reST parser with its per-line limit lifted while parsing, without the
    recognition of bare URIs and e-mail addresses in running text, parsing inline markup
    only in texts that ``budget`` allows (any other stays one text node), and raising
    ``_ParseTimeout`` once ``time.monotonic()`` passes ``deadline`` (checked at every line
    the state machines move to: docutils tells the document each time).

    docutils replaces a whole document that has one line over 10,000 characters by an error
    message. The text is already capped per file, so the parser may take any line; the
    limit is put back before the transforms run, where it bounds substitution expansion.
    A bare URI becomes a link node with the same text, so for text extraction recognizing it
    changes nothing, and its pattern takes time quadratic in the length of a run of hyphens
    or hyphenated words (8,000 characters: about a second, searched again after every match).
    """
    from docutils import nodes
    from docutils.parsers import rst
    from docutils.parsers.rst import states

    # Not a subclass: init_customizations builds its patterns from the class's own vars.
    inliner = states.Inliner()
    customize = inliner.init_customizations
    parse_inline = inliner.parse

    def init_customizations(settings: Any) -> None:
        customize(settings)
        inliner.implicit_dispatch = []

    def parse(text: str, lineno: int, memo: Any, parent: Any) -> tuple[list[Any], list[Any]]:
        if budget.allows(text):
            return parse_inline(text, lineno, memo, parent)  # type: ignore[no-any-return]
        return [nodes.Text(text)], []

    inliner.init_customizations = init_customizations
    inliner.parse = parse

    class Parser(rst.Parser):  # type: ignore[misc]
        def parse(self, inputstring: str, document: Any) -> None:
            note_source = document.note_source

            def note_source_in_time(source: Any, offset: Any) -> None:
                if time.monotonic() > deadline:
                    raise _ParseTimeout
                note_source(source, offset)

            document.note_source = note_source_in_time
            settings = document.settings
            limit = getattr(settings, "line_length_limit", 10_000)
            settings.line_length_limit = sys.maxsize
            try:
                super().parse(inputstring, document)
            finally:
                settings.line_length_limit = limit

    return Parser(inliner=inliner)


class _RestWalker:
    """Turns doctrees into pieces; ``first_line`` maps a parsed text's lines to the file's."""

    def __init__(self, buffer: PieceBuffer):
        from docutils import nodes

        self.buffer = buffer
        self.budget = _InlineBudget()
        self.deadline = time.monotonic() + MAX_REST_PARSE_SECONDS
        self.nodes = nodes
        self.blocks = (
            nodes.paragraph, nodes.literal_block, nodes.doctest_block, nodes.line_block,
            nodes.bullet_list, nodes.enumerated_list, nodes.definition_list, nodes.field_list,
            nodes.option_list, nodes.table, nodes.block_quote, nodes.title, nodes.rubric,
            nodes.caption,
        )
        # Leaves whose node.line is the first source line of their text.
        self.leaves = (
            nodes.paragraph, nodes.doctest_block, nodes.line, nodes.term, nodes.rubric,
            nodes.caption, nodes.attribution,
        )

    def parse(self, text: str, first_line: int, trail: tuple[str, ...], depth: int) -> None:
        from docutils.core import publish_doctree
        from docutils.statemachine import string2lines

        doctree = publish_doctree(text, parser=_rest_parser(self.budget, self.deadline),
                                  settings_overrides=_REST_SETTINGS)
        self.lines = string2lines(text, tab_width=_TAB_WIDTH, convert_whitespace=True)
        self.offset = first_line - 1
        self.depth = depth
        # Containers that hold a docutils message are walked into, never indexed whole.
        self.noisy: set[int] = set()
        for message in doctree.findall(self.nodes.system_message):
            parent = message.parent
            while parent is not None and id(parent) not in self.noisy:
                self.noisy.add(id(parent))
                parent = parent.parent
        self.walk(doctree, trail)

    def walk(self, node: Any, trail: tuple[str, ...]) -> None:
        nodes = self.nodes
        for child in node.children:
            if self.buffer.full:
                return
            if isinstance(child, nodes.system_message):
                self.unknown_directive(child, trail)
            elif isinstance(child, nodes.section):
                title = child.next_node(nodes.title)
                name = title.astext() if title is not None else ""
                self.walk(child, (*trail, name) if name else trail)
            elif isinstance(child, self.blocks) and id(child) not in self.noisy:
                start, end = self.span(child)
                self.buffer.add(Piece(child.astext(), heading=trail, line_start=start,
                                      line_end=end))
            elif isinstance(child, nodes.Element):
                self.walk(child, trail)

    def span(self, node: Any) -> tuple[int | None, int | None]:
        """The first and last source line of the text under ``node``."""
        starts: list[int] = []
        ends: list[int] = []
        leaves = [node] if node.children and isinstance(node[0], self.nodes.Text) else (
            node.findall(self.nodes.Element))
        for leaf in leaves:
            found = self.leaf_span(leaf)
            if found is not None:
                starts.append(found[0])
                ends.append(found[1])
        if not starts:
            line = next((n.line for n in _ancestors(node) if isinstance(n.line, int)), None)
            return (None, None) if line is None else (line + self.offset, line + self.offset)
        return min(starts) + self.offset, max(ends) + self.offset

    def leaf_span(self, node: Any) -> tuple[int, int] | None:
        nodes = self.nodes
        if not isinstance(node.line, int):
            return None
        if isinstance(node, nodes.title):
            # A section title's line is its underline; other titles sit on their directive.
            line = node.line - 1 if isinstance(node.parent, nodes.section) else node.line
            return line, line
        if isinstance(node, nodes.literal_block):
            return self.literal_span(node)
        if isinstance(node, self.leaves):
            return node.line, node.line + node.rawsource.count("\n")
        return None

    def literal_span(self, node: Any) -> tuple[int, int]:
        """A literal block's lines, found in the source near node.line.

        After ``::`` node.line is the block's first line; a directive's block (``code``)
        gets the line after it. The block is verbatim, so its lines can be checked.
        """
        text = node.astext().split("\n")
        count = len(text)
        first, last = text[0].strip(), text[-1].strip()
        for start in range(node.line, max(0, node.line - count - 3), -1):
            if (self.source_line(start) == first
                    and self.source_line(start + count - 1) == last):
                return start, start + count - 1
        return node.line, node.line + count - 1

    def source_line(self, number: int) -> str:
        return self.lines[number - 1].strip() if 0 < number <= len(self.lines) else "\0"

    def unknown_directive(self, message: Any, trail: tuple[str, ...]) -> None:
        """Index the content of a directive docutils does not know; drop every message."""
        nodes = self.nodes
        if message.get("level") != 3 or not isinstance(message.get("line"), int):
            return
        paragraph = message.next_node(nodes.paragraph)
        literal = message.next_node(nodes.literal_block)
        said = paragraph.astext() if paragraph is not None else ""
        unknown = _UNKNOWN_DIRECTIVE.match(said)
        rejected = _DIRECTIVE_ERROR.match(said)
        if unknown:
            name = unknown.group(1).lower()
        elif rejected and rejected.group(1).lower() in _VERBATIM_DIRECTIVES:
            name = rejected.group(1).lower()
        else:
            return
        if literal is None or name in _SKIPPED_DIRECTIVES:
            return
        if self.depth >= _MAX_DIRECTIVE_DEPTH or self.buffer.full:
            return
        block = literal.astext().split("\n")
        index = 1  # the directive's own line: its name and arguments
        while index < len(block) and _DIRECTIVE_OPTION.match(block[index]):
            index += 1
        while index < len(block) and not block[index].strip():
            index += 1
        content = textwrap.dedent("\n".join(block[index:])).rstrip()
        if not content:
            return
        first_line = message["line"] + self.offset + index
        if name in _VERBATIM_DIRECTIVES:
            last_line = first_line + content.count("\n")
            self.buffer.add(Piece(content, heading=trail, line_start=first_line,
                                  line_end=last_line))
            return
        saved = (self.lines, self.offset, self.depth, self.noisy)
        try:
            self.parse(content, first_line, trail, self.depth + 1)
        finally:
            self.lines, self.offset, self.depth, self.noisy = saved


def _ancestors(node: Any) -> Iterator[Any]:
    while node is not None:
        yield node
        node = node.parent


# Not "(.*?)\s*$": on a long run of spaces or tabs that the line goes on after, that is
# quadratic (100 KB of tabs in a heading: minutes). The title is stripped afterwards.
_ORG_HEADING = re.compile(r"^(\*+)\s+(.*)$")
_ORG_BLOCK = re.compile(r"^\s*#\+(begin|end)_\w+", re.IGNORECASE)


def extract_org(path: Path, max_chars: int) -> Extraction:
    try:
        text, truncated = read_text(path, max_chars)
    except NotText as exc:
        return skipped(str(exc))
    lines = text.split("\n")
    buffer = PieceBuffer(max_chars)
    heading_path: list[str] = []
    current: tuple[str, ...] = ()
    section_start = 0
    in_block = False

    def flush(end: int) -> None:
        body = lines[section_start:end]
        buffer.extend(paragraphs(body, first_line=section_start + 1, heading=current))

    for number, line in enumerate(lines):
        block = _ORG_BLOCK.match(line)
        if block:
            in_block = block.group(1).lower() == "begin"
        match = None if in_block else _ORG_HEADING.match(line)
        if match:
            flush(number)
            title = re.sub(r"^(TODO|DONE)\s+", "", match.group(2).strip())
            current = _set_heading(heading_path, len(match.group(1)), title)
            buffer.add(Piece(title, heading=current, line_start=number + 1, line_end=number + 1))
            section_start = number + 1
        if buffer.full:
            break
    flush(len(lines))
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()
