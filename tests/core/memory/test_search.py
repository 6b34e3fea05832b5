"""Hybrid search: fusion, filters (folder, type, date, paths), the per-file cap, snippets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.config import MemorySettings
from app.core.memory import fulltext
from app.core.memory.fusion import (
    anchored,
    confident_dense_weight,
    function_word_share,
    fuse,
    lookup_first,
    query_dense_weight,
)
from app.core.memory.ingest import Ingestor
from app.core.memory.search import MARK_CLOSE, MARK_OPEN, Filters, Hit, Searcher, fallback_snippet
from app.core.memory.vectors import VectorIndex
from app.core.profile.store import Store


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def library(ingestor: Ingestor, docs: Path) -> dict[str, Path]:
    files = {
        "heron": write(docs / "birds" / "heron.md", "# Herons\n\nThe grey heron hunts fish "
                       "at dawn in shallow water.\n", mtime=1_600_000_000),
        "owl": write(docs / "birds" / "owl.txt", "Owls hunt mice at night with silent "
                     "feathers.\n", mtime=1_700_000_000),
        "bread": write(docs / "kitchen" / "bread.md", "# Bread\n\nKnead the dough and let it "
                       "rise overnight; bake at dawn.\n", mtime=1_700_000_000),
        "long": write(docs / "kitchen" / "soup.md", "\n\n".join(
            f"# Part {i}\n\nSoup step {i}: simmer the stock with herbs." for i in range(8))),
    }
    outcomes = ingestor.ingest([(p, None) for p in files.values()])
    assert all(o.status == "indexed" for o in outcomes)
    return files


def test_keyword_hit_with_marked_snippet(searcher: Searcher, library: dict[str, Path]) -> None:
    hits = searcher.search("heron fish", k=3)
    assert hits[0].path == library["heron"]
    assert f"{MARK_OPEN}heron{MARK_CLOSE}" in hits[0].snippet
    assert hits[0].heading == "Herons"
    assert hits[0].location == "Herons"
    assert hits[0].ranks["bm25"] == 1
    assert hits[0].to_json()["path"] == str(library["heron"])


@pytest.mark.parametrize("method", ["anchored", "convex", "rrf", "dense", "bm25"])
def test_every_method_finds_the_obvious_file(searcher: Searcher, library: dict[str, Path],
                                             method: str) -> None:
    assert searcher.search("owls hunt mice", k=2, method=method)[0].path == library["owl"]


def test_folder_type_and_date_filters(searcher: Searcher, library: dict[str, Path],
                                      docs: Path) -> None:
    in_kitchen = searcher.search("dawn", k=10, filters=Filters(folders=(docs / "kitchen",)))
    assert {h.path for h in in_kitchen} <= {library["bread"], library["long"]}
    assert library["bread"] in {h.path for h in in_kitchen}
    texts = searcher.search("hunt", k=10, filters=Filters(types=("txt",)))
    assert {h.path for h in texts} == {library["owl"]}
    recent = searcher.search("dawn", k=10, filters=Filters(since_ns=1_650_000_000 * 10**9))
    assert library["heron"] not in {h.path for h in recent}
    only = searcher.search("dawn", k=10, filters=Filters(paths=(library["heron"],)), per_file=5)
    assert {h.path for h in only} == {library["heron"]}


def test_filters_with_ann_overfetch(searcher: Searcher, library: dict[str, Path], docs: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.memory.search as search_module

    monkeypatch.setattr(search_module, "EXACT_MAX", 0)  # force the ANN path under a filter
    hits = searcher.search("bread dough", k=3, filters=Filters(folders=(docs / "kitchen",)))
    assert hits and hits[0].path == library["bread"]


def test_at_most_n_chunks_per_file(searcher: Searcher, library: dict[str, Path]) -> None:
    hits = searcher.search("soup step simmer stock herbs", k=10, per_file=2)
    assert sum(h.path == library["long"] for h in hits) == 2
    more = searcher.search("soup step simmer stock herbs", k=10, per_file=5)
    assert sum(h.path == library["long"] for h in more) == 5


def test_query_syntax_is_not_interpreted(searcher: Searcher, library: dict[str, Path]) -> None:
    for query in ['"unbalanced', "NEAR(a b)", "col:umn", "*", "AND OR NOT", "-x", "^"]:
        searcher.search(query, k=3)  # no FTS5 syntax error
    assert searcher.search("   ", k=3) == []


def test_search_works_while_the_ann_index_is_empty(store: Store, fake_embedder,  # type: ignore[no-untyped-def]
                                                   library: dict[str, Path],
                                                   tmp_path: Path) -> None:
    empty = VectorIndex(tmp_path / "other-vectors", os.urandom(32))
    try:
        searcher = Searcher(store, fake_embedder, empty, MemorySettings())
        hits = searcher.search("owls hunt mice", k=1, method="dense")
        assert hits[0].path == library["owl"]  # exact search over store.db
    finally:
        empty.close()


def test_fusion_methods() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.1)]
    bm25 = [(3, 12.0), (1, 6.0)]
    common = {"k": 60, "dense_weight": 0.5, "scale": 0.4}
    assert [c for c, _ in fuse("rrf", dense, bm25, saturation=0, **common)][0] == 1
    convex = fuse("convex", dense, bm25, saturation=0, **common)
    assert {c for c, _ in convex} == {1, 2, 3}
    weak = fuse("convex", dense, [(3, 0.01)], saturation=5.0, **common)
    assert weak[0][0] == 1  # a weak lexical match barely moves the dense ranking
    with pytest.raises(ValueError):
        fuse("nope", dense, bm25, saturation=0, **common)


def test_function_word_share_and_the_query_dense_weight() -> None:
    assert function_word_share("heron fish dawn") == 0.0
    # 9 of its 11 words are function words: all but "back" and "branch"
    assert function_word_share("how do I get back to the branch I was on") == pytest.approx(9 / 11)
    assert function_word_share("") == 0.0
    keywords = query_dense_weight("heron fish dawn", 0.5, 0.25, 0.6)
    halfway = query_dense_weight("where the heron fishes", 0.5, 0.25, 0.6)  # share 0.5
    question = query_dense_weight("how do I get back to the branch I was on", 0.5, 0.25, 0.6)
    assert keywords == 0.5
    assert 0.5 < halfway < 1.0
    assert question == 1.0


def test_the_dense_weight_rises_with_the_lead_of_the_dense_top() -> None:
    clear = [(1, 0.70), (2, 0.58), (3, 0.57), (4, 0.56), (5, 0.50)]  # leads index 3 by 0.14
    close = [(1, 0.60), (2, 0.59), (3, 0.585), (4, 0.58), (5, 0.50)]  # leads it by 0.02
    full = confident_dense_weight(0.4, clear, rank=3, span=0.1, share=0.25)
    part = confident_dense_weight(0.4, close, rank=3, span=0.1, share=0.25)
    assert full == pytest.approx(0.4 + 0.6 * 0.25)  # a lead past the span moves it all of share
    assert part == pytest.approx(0.4 + 0.6 * 0.25 * 0.2)
    assert 0.4 < part < full < 1.0
    # a short list is measured at its last candidate; one candidate or share 0 changes nothing
    assert confident_dense_weight(0.4, clear[:2], 3, 0.1, 0.25) == pytest.approx(full)
    assert confident_dense_weight(0.4, clear[:1], 3, 0.1, 0.25) == 0.4
    assert confident_dense_weight(0.4, clear, 3, 0.1, 0.0) == 0.4
    assert confident_dense_weight(1.0, clear, 3, 0.1, 0.25) == 1.0


def test_anchored_fusion_charges_a_lexical_match_for_its_distance() -> None:
    dense = [(1, 0.62), (2, 0.55), (3, 0.40)]
    # 9 matches the query's words best but means something else (cosine 0.23); 8 matches
    # them almost as well and is close to the dense top.
    bm25 = [(9, 20.0), (8, 18.0), (2, 4.0)]
    cosines = {9: 0.23, 8: 0.58}
    scores = anchored(dense, bm25, cosines, dense_weight=0.5, scale=0.4, saturation=10.0)
    assert scores[8] > scores[1] > scores[9]
    ranked = fuse("anchored", dense, bm25, k=60, dense_weight=0.5, saturation=10.0,
                  cosines=cosines, scale=0.4)
    assert [c for c, _ in ranked][:2] == [8, 1]
    # without a known cosine a BM25 candidate sits at the floor of the dense part
    assert anchored(dense, [(7, 20.0)], {}, 0.5, 0.4, 10.0)[7] == pytest.approx(
        -0.5 + 0.5 * 20 / 30)
    # a weight of 1 is the dense ranking itself
    assert fuse("anchored", dense, bm25, k=60, dense_weight=1.0, saturation=10.0,
                scale=0.4, cosines=cosines) == sorted(dense, key=lambda r: -r[1])
    # no dense side (no embedding): BM25 alone decides
    assert [c for c, _ in fuse("anchored", [], bm25, k=60, dense_weight=0.5,
                               saturation=10.0, scale=0.4)] == [9, 8, 2]


def test_anchored_search_reads_exact_cosines_and_follows_dense_for_questions(
        searcher: Searcher, library: dict[str, Path]) -> None:
    conn = searcher.store.conn
    vector = searcher.embedder.encode(["owls hunt mice"], query=True)[0]
    every = {int(c) for (c,) in conn.execute("SELECT id FROM chunks")}
    exact = dict(searcher._exact(conn, vector, len(every), "", []))
    assert searcher.cosines_of(conn, vector, every) == pytest.approx(exact)
    assert searcher.cosines_of(conn, vector, set()) == {}
    question = "which of them is it that does the thing at night for me"
    dense = [h.chunk_id for h in searcher.search(question, k=5, method="dense")]
    assert [h.chunk_id for h in searcher.search(question, k=5, method="anchored")] == dense
    hits = searcher.search("heron fish", k=3, method="anchored")
    assert hits[0].path == library["heron"]


def test_fallback_snippet_marks_words() -> None:
    snippet = fallback_snippet("The Heron waits. " * 20, "heron")
    assert snippet.startswith(f"The {MARK_OPEN}Heron{MARK_CLOSE}")
    assert snippet.endswith("…")


def test_rare_terms_keep_the_rarest_stems_within_the_budget(store: Store,
                                                            library: dict[str, Path]) -> None:
    conn = store.conn
    # "hunts"/"hunting" stem like the index's "hunt" (the table's own tokenizer stems them);
    # "zebra" is in no chunk; "soup" is in eight chunks, "heron" in one, "hunt" in two.
    words = ["soup", "hunting", "zebra", "heron"]
    assert fulltext.rare_terms(conn, words, budget=1000) == ["soup", "hunting", "heron"]
    assert fulltext.rare_terms(conn, words, budget=3) == ["hunting", "heron"]
    assert fulltext.rare_terms(conn, words, budget=0) == ["heron"]  # the rarest always stays
    assert fulltext.rare_terms(conn, ["zebra"], budget=1000) == []
    assert fulltext.rare_terms(conn, [], budget=1000) == []


def test_a_budget_the_collection_never_reaches_changes_nothing(store: Store,
                                                               library: dict[str, Path]) -> None:
    conn = store.conn
    plain = fulltext.bm25_search(conn, "soup herons hunting at dawn", 50)
    assert plain and fulltext.bm25_search(conn, "soup herons hunting at dawn", 50,
                                          postings_budget=10_000) == plain
    budgeted = fulltext.bm25_search(conn, "soup herons hunting at dawn", 50, postings_budget=1)
    assert [cid for cid, _ in budgeted] == [cid for cid, _ in
                                           fulltext.bm25_search(conn, "herons", 50)]
    assert fulltext.bm25_search(conn, "zebra", 50, postings_budget=10) == []


def test_snippets_mark_stemmed_matches_of_the_given_chunks_only(searcher: Searcher,
                                                                library: dict[str, Path]) -> None:
    conn = searcher.store.conn
    rows = {1: ("Herons", "The grey heron hunts fish at dawn."), 2: ("", "Nothing here.")}
    marked = fulltext.snippets(conn, "hunting herons", rows, "[", "]")
    assert set(marked) == {1} and "[heron]" in marked[1] and "[hunts]" in marked[1]
    # The scratch table keeps nothing between calls.
    assert conn.execute("SELECT count(*) FROM temp.snippet_rows").fetchone()[0] == 0


def test_search_runs_bm25_beside_the_dense_half_and_closes(searcher: Searcher,
                                                           library: dict[str, Path]) -> None:
    hits = searcher.search("heron fish", k=3)
    assert hits[0].path == library["heron"] and hits[0].ranks["dense"] is not None
    assert hits[0].ranks["bm25"] == 1
    searcher.close()
    searcher.close()  # idempotent
    assert searcher.search("heron fish", k=3)[0].path == library["heron"]  # restarts on demand
    searcher.close()


def test_lookup_first_moves_the_lookup_chunks_ahead_in_fused_order() -> None:
    fused = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    assert lookup_first(fused, []) == fused
    moved = lookup_first(fused, [4, 2])
    assert [cid for cid, _ in moved] == [2, 4, 1, 3]
    scores = [score for _, score in moved]
    assert scores == sorted(scores, reverse=True) and scores[1] > 0.9


def test_a_rare_word_is_found_first_whatever_the_embedding_says(
        store: Store, real_embedder, vectors: VectorIndex, docs: Path,  # type: ignore[no-untyped-def]
        settings: MemorySettings) -> None:
    import random

    rng = random.Random(8)
    vocabulary = ("river mountain engine copper violin harvest lantern meadow signal archive "
                  "ledger compass orchard beacon quarry velvet").split()
    paths = []
    for i in range(20):
        body = " ".join(rng.choice(vocabulary) for _ in range(120))
        extra = "\n\nzetaedit77 appended\n" if i == 7 else "\n"
        paths.append(write(docs / f"g{i:02d}.md", f"# Note {i}\n\n## Section 0\n{body}.{extra}"))
    ingestor = Ingestor(store, real_embedder, vectors, settings)
    assert all(o.status == "indexed" for o in ingestor.ingest([(p, None) for p in paths]))
    searcher = Searcher(store, real_embedder, vectors, settings)
    try:
        # The dense side ranks bare "Note N" title chunks above the one chunk with the word.
        assert "zetaedit77" not in searcher.search("zetaedit77", k=5, method="dense")[0].text
        hits = searcher.search("zetaedit77", k=5)
        assert hits[0].path == paths[7] and "**zetaedit77**" in hits[0].snippet
        off = Searcher(store, real_embedder, vectors, MemorySettings(lookup_max_matches=0))
        assert "zetaedit77" not in off.search("zetaedit77", k=5)[0].text  # no lookup rule
        off.close()
        # A common word is no lookup: 20 chunks hold "note", more than lookup_max_matches.
        assert fulltext.lookup_matches(store.conn, "note", settings.lookup_max_matches) == []
        assert len(fulltext.lookup_matches(store.conn, "zetaedit77", 10)) == 1
        assert fulltext.lookup_matches(store.conn, "zetaedit77 appended", 10) == []
    finally:
        searcher.close()


def test_a_hit_cites_lines_or_paragraphs_as_its_extractor_numbered_them() -> None:
    def hit(name: str, start: int | None, end: int | None, page: int | None = None) -> Hit:
        return Hit(1, Path(name), 1.0, "", page, start, end, "", "")

    assert hit("notes.md", 3, 9).location == "lines 3-9"
    assert hit("notes.md", 3, 3).location == "line 3"
    assert hit("report.docx", 3, 9).location == "paragraphs 3-9"
    assert hit("report.odt", 4, 4).location == "paragraph 4"
    assert hit("report.pdf", None, None, page=2).location == "page 2"


def test_a_short_search_ranks_as_the_bench_measures(store: Store, fake_embedder,  # type: ignore[no-untyped-def]
                                                     vectors: VectorIndex, docs: Path) -> None:
    # The bench ranks with k=100 (evaluation.evaluate's depth); the app asks for 10 or fewer.
    # Both must take the same candidates, or the app ranks otherwise than the bench reports.
    assert MemorySettings().fusion_candidates >= 3 * 100
    settings = MemorySettings(fusion_candidates=12)
    words = ["heron", "owl", "bread", "dough", "stock", "herbs", "dawn", "night", "fish", "mice"]
    files = [write(docs / f"n{i:02d}.md", " ".join(words[(i * j) % 10] for j in range(1, 8)))
             for i in range(40)]
    Ingestor(store, fake_embedder, vectors, settings).ingest([(p, None) for p in files])
    searcher = Searcher(store, fake_embedder, vectors, settings)
    for query in ("heron at dawn", "how do I knead the dough", "owl mice night fish"):
        wide = [h.chunk_id for h in searcher.search(query, k=4, per_file=1, snippets=False)]
        assert [h.chunk_id for h in searcher.search(query, k=2, per_file=1)] == wide[:2]
