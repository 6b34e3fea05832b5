"""Markup with headings: Markdown (markdown-it-py), reStructuredText (docutils), Org.

Each top-level block (paragraph, list, code block, table) becomes a piece carrying the heading
path above it and its source line range, so a hit can cite "notes.md > Setup > Linux".
"""

from __future__ import annotations

import re
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
    from docutils import nodes
    from docutils.core import publish_doctree

    overrides = {
        "report_level": 5, "halt_level": 5, "file_insertion_enabled": False,
        "raw_enabled": False, "input_encoding": "unicode", "warning_stream": False,
        "doctitle_xform": False, "sectsubtitle_xform": False,
    }
    doctree = publish_doctree(text, settings_overrides=overrides)
    buffer = PieceBuffer(max_chars)
    blocks = (nodes.paragraph, nodes.literal_block, nodes.bullet_list, nodes.enumerated_list,
              nodes.definition_list, nodes.table, nodes.block_quote, nodes.title)

    def walk(node: Any, trail: tuple[str, ...]) -> None:
        for child in node.children:
            if buffer.full:
                return
            if isinstance(child, nodes.section):
                title = child.next_node(nodes.title)
                name = title.astext() if title is not None else ""
                walk(child, (*trail, name) if name else trail)
            elif isinstance(child, blocks):
                line = child.line if isinstance(child.line, int) else None
                body = child.astext()
                span = body.count("\n")
                start = None if line is None else max(1, line - span - (0 if isinstance(child, nodes.title) else 1))
                buffer.add(Piece(body, heading=trail, line_start=start,
                                 line_end=None if start is None else start + span))
            elif isinstance(child, nodes.Element):
                walk(child, trail)

    walk(doctree, ())
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()


_ORG_HEADING = re.compile(r"^(\*+)\s+(.*?)\s*$")
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
            title = re.sub(r"^(TODO|DONE)\s+", "", match.group(2))
            current = _set_heading(heading_path, len(match.group(1)), title)
            buffer.add(Piece(title, heading=current, line_start=number + 1, line_end=number + 1))
            section_start = number + 1
        if buffer.full:
            break
    flush(len(lines))
    buffer.truncated = buffer.truncated or truncated
    return buffer.result()
