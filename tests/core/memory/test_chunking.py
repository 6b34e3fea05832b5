"""Chunking invariants: token budget, nothing lost, deterministic, stable keys, structure."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.memory.chunking import chunk_pieces, estimate_tokens
from app.core.memory.extract.base import Piece

WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return set(WORD.findall(text))


paragraph = st.lists(st.from_regex(r"[a-z]{1,14}", fullmatch=True), min_size=1,
                     max_size=120).map(" ".join)
pieces = st.lists(
    st.builds(Piece, text=paragraph, heading=st.sampled_from([(), ("A",), ("A", "B")]),
              page=st.sampled_from([None, 1, 2])),
    min_size=1, max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(pieces=pieces, budget=st.integers(min_value=24, max_value=300))
def test_budget_coverage_and_determinism(pieces: list[Piece], budget: int) -> None:
    chunks = chunk_pieces(pieces, budget, 8)
    assert chunks
    for chunk in chunks:
        assert estimate_tokens(chunk.text) <= budget
    assert set().union(*(words(p.text) for p in pieces)) <= set().union(
        *(words(c.text) for c in chunks))
    again = chunk_pieces(pieces, budget, 8)
    assert [(c.key, c.text) for c in again] == [(c.key, c.text) for c in chunks]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_sections_do_not_mix_and_keep_location() -> None:
    chunks = chunk_pieces([
        Piece("intro words", heading=("Doc",), line_start=1, line_end=1),
        Piece("setup words", heading=("Doc", "Setup"), line_start=3, line_end=4),
        Piece("more setup", heading=("Doc", "Setup"), line_start=6, line_end=9),
        Piece("page two", page=2),
    ])
    assert [c.heading for c in chunks] == [("Doc",), ("Doc", "Setup"), ()]
    assert (chunks[1].line_start, chunks[1].line_end) == (3, 9)
    assert chunks[2].page == 2
    assert chunks[1].embedding_text().startswith("Doc > Setup\n")


def test_heading_only_piece_is_not_repeated() -> None:
    chunks = chunk_pieces([Piece("Setup", heading=("Setup",)), Piece("body", heading=("Setup",))])
    assert [c.text for c in chunks] == ["body"]
    alone = chunk_pieces([Piece("Lonely", heading=("Lonely",))])
    assert [c.text for c in alone] == ["Lonely"]


def test_unchanged_chunks_keep_their_keys_when_others_change() -> None:
    first = [Piece("alpha " * 150, heading=("A",)), Piece("beta " * 150, heading=("B",))]
    second = [Piece("alpha " * 150, heading=("A",)), Piece("gamma " * 150, heading=("B",))]
    keys_a = [c.key for c in chunk_pieces(first) if c.heading == ("A",)]
    keys_b = [c.key for c in chunk_pieces(second) if c.heading == ("A",)]
    assert keys_a == keys_b
    assert {c.key for c in chunk_pieces(first)} != {c.key for c in chunk_pieces(second)}


def test_long_paragraph_is_split_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(80)]
    chunks = chunk_pieces([Piece(" ".join(sentences))], max_tokens=60, overlap_tokens=12)
    assert len(chunks) > 3
    for before, after in zip(chunks, chunks[1:], strict=False):
        last_sentence = before.text.split("\n\n")[-1]
        assert after.text.startswith(last_sentence)  # a small overlap


def test_one_enormous_word_is_cut() -> None:
    chunks = chunk_pieces([Piece("x" * 50_000)], max_tokens=100)
    assert all(estimate_tokens(c.text) <= 100 for c in chunks)
    assert sum(len(c.text) for c in chunks) == 50_000


def test_max_chunks() -> None:
    many = [Piece(f"paragraph {i} " * 80) for i in range(20)]
    assert len(chunk_pieces(many, 100, 0, max_chunks=5)) == 5
