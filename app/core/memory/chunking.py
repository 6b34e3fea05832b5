"""Chunking that respects structure: pieces of one section (same page and heading path) are
packed together up to the token budget; a piece too long for one chunk is cut at line, then
sentence, then word boundaries, with a small overlap between consecutive parts.

Deterministic and independent of the embedding model: tokens are estimated from words (long
words count as several word pieces), which keeps chunks under MiniLM's 256-token window at the
default budget. A chunk's ``key`` is a hash of its heading, page and text, so an unchanged
chunk keeps its key (and its embedding) when the file around it changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.core.memory.extract.base import Piece

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def estimate_tokens(text: str) -> int:
    """An upper-leaning estimate of word-piece tokens: one per word or symbol, plus one per
    six characters beyond the first of a long word."""
    return sum(1 + (len(t) - 1) // 6 for t in _TOKEN.findall(text))


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    heading: tuple[str, ...]
    page: int | None
    line_start: int | None
    line_end: int | None
    key: str

    @property
    def heading_text(self) -> str:
        return " > ".join(self.heading)

    def embedding_text(self) -> str:
        """What the embedder sees: the heading path as context, then the text."""
        return f"{self.heading_text}\n{self.text}" if self.heading else self.text


def chunk_key(heading: Sequence[str], page: int | None, text: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(" > ".join(heading).encode("utf-8", "surrogatepass"))
    digest.update(b"\x00" + str(page).encode() + b"\x00")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@dataclass
class _Part:
    text: str
    tokens: int
    line_start: int | None
    line_end: int | None


def _split_units(text: str) -> list[str]:
    """Units to cut a long piece at: lines, or sentences of one long line."""
    lines = [line for line in text.split("\n") if line.strip()]
    units: list[str] = []
    for line in lines if len(lines) > 1 else [text]:
        units.extend(s for s in _SENTENCE_END.split(line) if s.strip())
    return units


def _cut_words(unit: str, budget: int) -> list[str]:
    words = unit.split()
    out: list[str] = []
    current: list[str] = []
    used = 0
    for word in words:
        cost = estimate_tokens(word) or 1
        if current and used + cost > budget:
            out.append(" ".join(current))
            current, used = [], 0
        if cost > budget:  # one enormous "word" (base64, minified code): hard cut
            step = budget * 6
            out.extend(word[i : i + step] for i in range(0, len(word), step))
            continue
        current.append(word)
        used += cost
    if current:
        out.append(" ".join(current))
    return out


def _parts(piece: Piece, budget: int) -> list[_Part]:
    tokens = estimate_tokens(piece.text)
    if tokens <= budget:
        return [_Part(piece.text.strip(), tokens, piece.line_start, piece.line_end)]
    small: list[str] = []
    for unit in _split_units(piece.text):
        small.extend([unit] if estimate_tokens(unit) <= budget else _cut_words(unit, budget))
    return [_Part(u.strip(), estimate_tokens(u), piece.line_start, piece.line_end) for u in small]


def _make_chunk(ordinal: int, parts: list[_Part], heading: tuple[str, ...],
                page: int | None) -> Chunk:
    text = "\n\n".join(p.text for p in parts)
    starts = [p.line_start for p in parts if p.line_start is not None]
    ends = [p.line_end for p in parts if p.line_end is not None]
    return Chunk(ordinal, text, heading, page, min(starts, default=None),
                 max(ends, default=None), chunk_key(heading, page, text))


def _sections(pieces: Iterable[Piece]) -> list[tuple[tuple[str, ...], int | None, list[Piece]]]:
    sections: list[tuple[tuple[str, ...], int | None, list[Piece]]] = []
    for piece in pieces:
        if sections and sections[-1][0] == piece.heading and sections[-1][1] == piece.page:
            sections[-1][2].append(piece)
        else:
            sections.append((piece.heading, piece.page, [piece]))
    return sections


def chunk_pieces(pieces: Iterable[Piece], max_tokens: int = 200, overlap_tokens: int = 24,
                 max_chunks: int | None = None) -> list[Chunk]:
    """Pack ``pieces`` into chunks of at most ``max_tokens`` (estimated), overlap between
    consecutive chunks of one section. The heading path is kept apart (it is prepended for
    embedding), so a piece that only repeats its own heading is dropped when the section has
    other text."""
    budget = max(16, max_tokens - 8)
    overlap = max(0, min(overlap_tokens, budget // 4))
    chunks: list[Chunk] = []
    for heading, page, members in _sections(pieces):
        body = [p for p in members if not (heading and p.text.strip() == heading[-1])]
        parts = [part for p in (body or members) for part in _parts(p, budget)]
        current: list[_Part] = []
        used = 0
        for part in parts:
            if current and used + part.tokens > budget:
                chunks.append(_make_chunk(len(chunks), current, heading, page))
                tail: list[_Part] = []
                kept = 0
                for prev in reversed(current):
                    if kept + prev.tokens > overlap:
                        break
                    tail.insert(0, prev)
                    kept += prev.tokens
                if kept + part.tokens > budget:
                    tail, kept = [], 0
                current, used = tail, kept
            current.append(part)
            used += part.tokens
        if current:
            chunks.append(_make_chunk(len(chunks), current, heading, page))
        if max_chunks is not None and len(chunks) >= max_chunks:
            return chunks[:max_chunks]
    return chunks
