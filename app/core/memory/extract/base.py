"""What every extractor returns: pieces of text with where they came from, or a reason.

An extractor never raises: bad input becomes ``skipped`` (nothing to index, e.g. empty or
encrypted) or ``failed`` (damaged). Text is capped per file at ``max_chars`` (the cap is the
``memory.max_text_chars_per_file`` setting); a capped file is still ``extracted`` and says so.
Extractors run on the index lane.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

EXTRACTED = "extracted"
SKIPPED = "skipped"
FAILED = "failed"


@dataclass(frozen=True)
class Piece:
    """A run of text with its location: page (1-based), heading path, line range (1-based)."""

    text: str
    page: int | None = None
    heading: tuple[str, ...] = ()
    line_start: int | None = None
    line_end: int | None = None


@dataclass(frozen=True)
class Extraction:
    status: str
    pieces: tuple[Piece, ...] = ()
    reason: str = ""
    truncated: bool = False

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.pieces)


def skipped(reason: str) -> Extraction:
    return Extraction(SKIPPED, reason=reason)


def failed(reason: str) -> Extraction:
    return Extraction(FAILED, reason=reason)


class PieceBuffer:
    """Collects pieces up to a character budget; ``full`` tells the extractor to stop reading."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.pieces: list[Piece] = []
        self.used = 0
        self.truncated = False

    @property
    def full(self) -> bool:
        return self.used >= self.max_chars

    def add(self, piece: Piece) -> bool:
        """Add a piece (cut at the budget); False once the budget is spent."""
        text = piece.text.replace("\x00", "")
        if not text.strip():
            return not self.full
        room = self.max_chars - self.used
        if room <= 0:
            self.truncated = True
            return False
        if len(text) > room:
            text = text[:room]
            self.truncated = True
        self.pieces.append(
            Piece(text, piece.page, piece.heading, piece.line_start, piece.line_end)
        )
        self.used += len(text)
        return not self.full

    def extend(self, pieces: Iterable[Piece]) -> None:
        for piece in pieces:
            if not self.add(piece):
                break

    def result(self, empty_reason: str = "no text found") -> Extraction:
        if not self.pieces:
            return skipped(empty_reason)
        return Extraction(EXTRACTED, tuple(self.pieces), truncated=self.truncated)


# An extractor: (path, max_chars) -> Extraction. Wrapped by ``safe`` so it never raises.
Extractor = Callable[[Path, int], Extraction]


@dataclass
class Family:
    """A format family: its extensions and its extractor."""

    name: str
    extensions: tuple[str, ...]
    extract: Extractor
    notes: list[str] = field(default_factory=list)
