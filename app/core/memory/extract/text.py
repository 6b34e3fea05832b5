"""Plain text and source code: encoding detection, binary refusal, paragraphs with line ranges.

Reads at most ``4 * max_chars`` bytes (UTF-8 needs at most four bytes a character), so a huge
log file costs bounded memory; the rest of such a file is left out and the result says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from app.core.memory.extract.base import Extraction, Piece, PieceBuffer, skipped

SAMPLE_BYTES = 64 * 1024
TEXT_EXTENSIONS = (
    ".txt", ".text", ".log", ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java",
    ".c", ".h", ".cpp", ".hpp", ".cc", ".cs", ".go", ".rs", ".rb", ".php", ".sh", ".bash",
    ".zsh", ".fish", ".ps1", ".sql", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg",
    ".conf", ".xml", ".css", ".scss", ".lua", ".pl", ".r", ".swift", ".kt", ".scala", ".clj",
    ".ex", ".exs", ".erl", ".hs", ".ml", ".vim", ".tex", ".bib", ".srt", ".vtt", ".el",
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class NotText(Exception):
    """The bytes are binary or in no encoding we can recognise."""


def decode_bytes(data: bytes) -> str:
    """Decode with UTF-8 first, then charset-normalizer's best guess; NotText for binary."""
    if not data.startswith(_BOMS) and b"\x00" in data[:SAMPLE_BYTES]:
        raise NotText("binary content")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut at the read limit
            return data[: exc.start].decode("utf-8-sig")
    from charset_normalizer import from_bytes

    best = from_bytes(data[:SAMPLE_BYTES]).best()
    if best is None or best.encoding is None:
        raise NotText("binary content or unknown text encoding")
    return data.decode(best.encoding, errors="replace")


def read_text(path: Path, max_chars: int) -> tuple[str, bool]:
    """The file's text (bounded) and whether it was cut; NotText for binary files."""
    limit = max(4 * max_chars, 16)
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    truncated = len(data) > limit
    text = decode_bytes(data[:limit])
    if len(text) > max_chars:
        text, truncated = text[:max_chars], True
    return text.replace("\r\n", "\n").replace("\r", "\n"), truncated


def paragraphs(
    lines: list[str],
    first_line: int = 1,
    heading: tuple[str, ...] = (),
    page: int | None = None,
) -> Iterator[Piece]:
    """Blank-line separated blocks of ``lines`` as pieces with 1-based line ranges."""
    start: int | None = None
    for index, line in enumerate([*lines, ""]):
        if line.strip():
            if start is None:
                start = index
        elif start is not None:
            yield Piece(
                "\n".join(lines[start:index]).strip("\n"),
                page=page,
                heading=heading,
                line_start=first_line + start,
                line_end=first_line + index - 1,
            )
            start = None


def extract_text(path: Path, max_chars: int) -> Extraction:
    try:
        text, truncated = read_text(path, max_chars)
    except NotText as exc:
        return skipped(str(exc))
    buffer = PieceBuffer(max_chars)
    buffer.extend(paragraphs(text.split("\n")))
    buffer.truncated = buffer.truncated or truncated
    return buffer.result("no text found")
