"""Ingest: idempotent by content hash, embeddings reused, removal, renames, crash repair of
the ANN index and its rebuild from store.db."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import app.core.memory.search as search_module
from app.core.memory.ingest import Ingestor
from app.core.memory.paths import path_to_key
from app.core.memory.search import Searcher
from app.core.memory.vectors import VectorIndex
from app.core.profile.store import Store
from app.core.tasks import TaskState
from tests.fixtures.fake_embedder import FakeEmbedder


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def chunk_count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])


def ann_ids(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT ann_id FROM chunks")}


def fts_count(store: Store, word: str) -> int:
    return int(store.conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                  (word,)).fetchone()[0])


def test_ingest_then_unchanged(ingestor: Ingestor, store: Store, vectors: VectorIndex,
                               fake_embedder: FakeEmbedder, docs: Path) -> None:
    a = write(docs / "a.md", "# Title\n\nThe heron waits by the pond.\n")
    b = write(docs / "b.txt", "Otters juggle pebbles.\n")
    empty = write(docs / "empty.txt", "")
    outcomes = ingestor.ingest([(a, 1), (b, 1), (empty, 1)])
    assert [(o.status, o.path) for o in outcomes] == [("indexed", a), ("indexed", b),
                                                      ("skipped", empty)]
    assert outcomes[2].reason == "empty file"
    assert chunk_count(store) == 2 and vectors.count() == 2
    assert vectors.ids() == ann_ids(store)
    row = store.conn.execute("SELECT folder_id, ext, chunk_count, content_hash, size FROM files "
                             "WHERE path = ?", (path_to_key(a),)).fetchone()
    assert row[0] == 1 and row[1] == ".md" and row[2] == 1 and row[3] and row[4] > 0
    calls = len(fake_embedder.calls)
    again = ingestor.ingest([(a, 1), (b, 1)])
    assert [o.status for o in again] == ["unchanged", "unchanged"]
    assert len(fake_embedder.calls) == calls  # nothing re-embedded
    assert chunk_count(store) == 2 and vectors.count() == 2


def test_changed_file_reuses_unchanged_chunk_embeddings(ingestor: Ingestor, store: Store,
                                                        vectors: VectorIndex,
                                                        fake_embedder: FakeEmbedder,
                                                        docs: Path) -> None:
    path = write(docs / "n.md", "# One\n\nfirst section text\n\n# Two\n\nsecond section\n")
    ingestor.ingest([(path, None)])
    before = ann_ids(store)
    fake_embedder.calls.clear()
    write(path, "# One\n\nfirst section text\n\n# Two\n\nrewritten second part\n")
    outcome = ingestor.ingest([(path, None)])[0]
    assert (outcome.status, outcome.chunks) == ("indexed", 2)
    assert fake_embedder.calls == [1]  # only the changed chunk
    assert fts_count(store, "rewritten") == 1 and fts_count(store, "second") == 1
    assert fts_count(store, "section") == 1  # the old chunk's FTS row is gone
    assert vectors.ids() == ann_ids(store) and not (ann_ids(store) & before)


def test_remove_and_remove_under(ingestor: Ingestor, store: Store, vectors: VectorIndex,
                                 docs: Path) -> None:
    keep = write(docs / "keep.txt", "keep me")
    inner = [write(docs / "sub" / f"{i}.txt", f"inner file {i}") for i in range(3)]
    lookalike = write(docs / "subway.txt", "not under sub")
    ingestor.ingest([(p, None) for p in [keep, *inner, lookalike]])
    assert ingestor.remove(keep) is True
    assert ingestor.remove(keep) is False
    assert ingestor.remove_under(docs / "sub") == 3
    assert chunk_count(store) == 1 and vectors.count() == 1
    assert fts_count(store, "inner") == 0
    assert store.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 1


def test_move_file_and_folder_without_reembedding(ingestor: Ingestor, store: Store,
                                                  fake_embedder: FakeEmbedder,
                                                  docs: Path) -> None:
    one = write(docs / "old" / "one.md", "walrus notes")
    two = write(docs / "old" / "deep" / "two.md", "puffin notes")
    ingestor.ingest([(one, None), (two, None)])
    ids = ann_ids(store)
    calls = len(fake_embedder.calls)
    shutil.move(docs / "old", docs / "new")
    assert ingestor.move(docs / "old", docs / "new") is True
    keys = {r[0] for r in store.conn.execute("SELECT path FROM files")}
    assert keys == {path_to_key(docs / "new" / "one.md"), path_to_key(docs / "new" / "deep" / "two.md")}
    (docs / "new" / "one.md").rename(docs / "new" / "renamed.txt")
    assert ingestor.move(docs / "new" / "one.md", docs / "new" / "renamed.txt") is True
    assert store.conn.execute("SELECT ext FROM files WHERE path = ?",
                              (path_to_key(docs / "new" / "renamed.txt"),)).fetchone()[0] == ".txt"
    assert ann_ids(store) == ids and len(fake_embedder.calls) == calls
    outcome = ingestor.ingest([(docs / "new" / "renamed.txt", None)])[0]
    assert outcome.status == "unchanged"
    assert ingestor.move(docs / "nothing", docs / "elsewhere") is False


def test_non_utf8_file_name(ingestor: Ingestor, store: Store, tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.makedirs(folder)
    raw = folder + b"/men\xfc 100%.txt"
    with open(raw, "wb") as handle:
        handle.write(b"latin one name")
    path = Path(os.fsdecode(raw))
    assert ingestor.ingest([(path, None)])[0].status == "indexed"
    stored = store.conn.execute("SELECT path FROM files").fetchone()[0]
    from app.core.memory.paths import key_to_path

    assert os.fsencode(key_to_path(stored)) == raw
    assert ingestor.remove_under(Path(os.fsdecode(folder))) == 1


def test_missing_and_unreadable_files(ingestor: Ingestor, docs: Path) -> None:
    gone = docs / "gone.txt"
    outcome = ingestor.ingest([(gone, None), (docs, None)])
    assert [(o.status, o.reason) for o in outcome] == [("skipped", "file not found"),
                                                       ("skipped", "not a regular file")]


def test_file_that_becomes_unreadable_is_forgotten(ingestor: Ingestor, store: Store,
                                                   docs: Path) -> None:
    path = write(docs / "x.txt", "some text")
    ingestor.ingest([(path, None)])
    path.write_bytes(b"\x00\x01\x02binary now")
    outcome = ingestor.ingest([(path, None)])[0]
    assert outcome.status == "skipped" and "binary" in outcome.reason
    assert chunk_count(store) == 0


def test_crash_between_commit_and_ann_is_repaired(store: Store, fake_embedder: FakeEmbedder,
                                                  vectors: VectorIndex, settings, docs: Path) -> None:  # type: ignore[no-untyped-def]
    files = [write(docs / f"{i}.txt", f"document number {i}") for i in range(5)]
    Ingestor(store, fake_embedder, vectors, settings).ingest([(p, None) for p in files])
    # Simulate a crash: an orphan vector, a missing vector, and the dirty mark left set.
    missing = sorted(ann_ids(store))[0]
    vectors.delete([missing])
    vectors.add(["orphan-id"], fake_embedder.encode(["stray"]))
    store.conn.execute("UPDATE meta SET value = '1' WHERE key = 'memory.ann_dirty'")
    assert vectors.count() == 5  # the count alone would not notice
    fresh = Ingestor(store, fake_embedder, vectors, settings)
    assert fresh.check_ann() == 2
    assert vectors.ids() == ann_ids(store)
    assert fresh.check_ann() == 0


def test_rebuild_after_the_index_folder_is_deleted(store: Store, fake_embedder: FakeEmbedder,
                                                   settings, docs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = os.urandom(32)
    index = VectorIndex(tmp_path / "vectors", key)
    files = [write(docs / f"{i}.txt", f"note {i}") for i in range(4)]
    Ingestor(store, fake_embedder, index, settings).ingest([(p, None) for p in files])
    index.close()
    shutil.rmtree(tmp_path / "vectors")
    reopened = VectorIndex(tmp_path / "vectors", key)
    try:
        ingestor = Ingestor(store, fake_embedder, reopened, settings)
        ingestor.ensure_ann()
        assert reopened.count() == 4 and reopened.ids() == ann_ids(store)
        assert ingestor.rebuild_ann() == 4
        assert reopened.ids() == ann_ids(store)
    finally:
        reopened.close()


def test_cancel_between_files(ingestor: Ingestor, store: Store, docs: Path) -> None:
    files = [write(docs / f"{i}.txt", f"text {i}") for i in range(5)]
    state = TaskState()
    state.cancel()
    assert ingestor.ingest([(p, None) for p in files], state) == []
    assert chunk_count(store) == 0


def test_progress_is_reported(ingestor: Ingestor, docs: Path) -> None:
    files = [write(docs / f"{i}.txt", f"text {i}") for i in range(3)]
    seen = []
    state = TaskState(on_progress=seen.append, min_interval=0)
    ingestor.ingest([(p, None) for p in files], state)
    assert seen[-1].done == 3 and seen[-1].total == 3
    assert "3 chunks" in seen[-1].message


def test_progress_moves_while_a_batch_is_embedded(store: Store, fake_embedder: FakeEmbedder,
                                                  vectors: VectorIndex, settings,  # type: ignore[no-untyped-def]
                                                  docs: Path) -> None:
    """Files are committed once per batch; the chunks embedded so far are reported before."""
    settings.embedding_batch_size = 2
    ingestor = Ingestor(store, fake_embedder, vectors, settings)
    files = [write(docs / f"{i}.txt", f"note number {i} about tomatoes") for i in range(5)]
    seen = []
    ingestor.ingest([(p, None) for p in files], TaskState(on_progress=seen.append,
                                                          min_interval=0))
    during = [p.detail["chunks"] for p in seen if p.done < 5 and p.detail.get("chunks")]
    assert during == [2, 4, 5], during  # one report per embedder batch, before the commit
    assert fake_embedder.calls == [2, 2, 1]
    assert seen[-1].detail["chunks"] == 5 and chunk_count(store) == 5


def test_model_change_reembeds_from_the_store(store: Store, vectors: VectorIndex, settings,  # type: ignore[no-untyped-def]
                                              docs: Path) -> None:
    from app.core.memory.reembed import needs_reembed, reembed_all
    from app.core.memory.search import Searcher

    old = FakeEmbedder(dim=64, name="model-a")
    files = [write(docs / f"{i}.md", f"# Note {i}\n\nkoala fact number {i}") for i in range(4)]
    Ingestor(store, old, vectors, settings).ingest([(p, None) for p in files])
    new = FakeEmbedder(dim=32, name="model-b")
    ingestor = Ingestor(store, new, vectors, settings)
    assert needs_reembed(ingestor)
    ingestor.ensure_ann()
    assert vectors.count() == 0  # the other model's vectors are gone at once
    hits = Searcher(store, new, vectors, settings).search("koala fact", k=2)
    assert hits  # BM25 still answers during the change
    assert reembed_all(ingestor) == 4
    assert not needs_reembed(ingestor)
    assert vectors.ids() == ann_ids(store)
    blob = store.conn.execute("SELECT embedding FROM chunks").fetchone()[0]
    assert len(blob) == 32 * 4
    dense = Searcher(store, new, vectors, settings).search("koala fact number 2", k=1,
                                                          method="dense")
    assert dense[0].path == files[2]
    assert ingestor.ingest([(files[0], None)])[0].status == "unchanged"


def test_a_re_embed_fills_the_ann_index_batch_by_batch(
        store: Store, vectors: VectorIndex, settings, docs: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EXACT_MAX chunks dense search has only the ANN index: a long re-embed adds each
    batch to it as it goes, so the chunks already done are found while the rest wait, and a
    re-embed stopped part-way resumes with the index consistent."""
    from app.core.memory import reembed
    from app.core.memory.search import Searcher
    from app.core.tasks import TaskState

    monkeypatch.setattr(search_module, "EXACT_MAX", 0)
    monkeypatch.setattr(reembed, "BATCH", 2)
    files = [write(docs / f"{i}.md", f"note {i} about {word}")
             for i, word in enumerate(["herons", "otters", "bread", "soup", "owls", "kites"])]
    Ingestor(store, FakeEmbedder(dim=64, name="model-a"), vectors, settings).ingest(
        [(p, None) for p in files])
    new = FakeEmbedder(dim=32, name="model-b")
    ingestor = Ingestor(store, new, vectors, settings)
    state = TaskState()
    original = new.encode

    def encode_then_stop(texts, *, query=False):  # type: ignore[no-untyped-def]
        if sum(new.calls) >= 2:
            state.cancel()  # the user locks the app after the first batch
        return original(texts, query=query)

    new.encode = encode_then_stop  # type: ignore[method-assign]
    done = ingestor.reembed(state)
    assert 0 < done < len(files)
    assert vectors.count() == done
    searcher = Searcher(store, new, vectors, settings)
    found = {h.path for h in searcher.search("note about herons otters bread soup owls kites",
                                             k=10, method="dense")}
    assert len(found) == done
    new.encode = original  # type: ignore[method-assign]
    fresh = Ingestor(store, new, vectors, settings)  # the next start resumes
    assert fresh.reembed() == len(files) - done
    assert vectors.ids() == ann_ids(store) and vectors.count() == len(files)


def test_a_damaged_index_is_rebuilt_from_the_store_in_one_pass(
        store: Store, fake_embedder: FakeEmbedder, settings, docs: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged chroma.sqlite3: the first check wipes the folder and rebuilds it from
    store.db (it used to fail on chromadb's cached dead system until a second process)."""
    monkeypatch.setattr(search_module, "EXACT_MAX", 0)  # dense hits come from the ANN only
    key = os.urandom(32)
    index = VectorIndex(tmp_path / "vectors", key)
    files = [write(docs / f"{i}.txt", f"note {i} about {word}")
             for i, word in enumerate(["herons", "otters", "bread", "soup", "owls"])]
    Ingestor(store, fake_embedder, index, settings).ingest([(p, None) for p in files])

    def dense(vectors: VectorIndex) -> list[tuple[Path, float]]:
        searcher = Searcher(store, fake_embedder, vectors, settings)
        try:
            return [(h.path, round(h.score, 5))
                    for h in searcher.search("otters and owls", k=5, method="dense")]
        finally:
            searcher.close()

    before = dense(index)
    assert len(before) == 5
    index.close()
    with (tmp_path / "vectors" / "chroma.sqlite3").open("r+b") as handle:
        handle.write(os.urandom(8192))
    reopened = VectorIndex(tmp_path / "vectors", key)
    try:
        ingestor = Ingestor(store, fake_embedder, reopened, settings)
        ingestor.ensure_ann()
        assert reopened.ids() == ann_ids(store)
        assert dense(reopened) == before
        assert ingestor.check_ann() == 0
    finally:
        reopened.close()
