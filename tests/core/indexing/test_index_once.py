"""Reconcile + index with the real Ingestor, store and ANN index (fake embedder)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.core.config import IndexingSettings
from app.core.tasks import TaskState
from tests.fixtures.indexing import Rig, make_rig, note, picture, write


def consistent(rig: Rig) -> dict:
    pic = picture(rig.store)
    assert pic["chunk_count"] == pic["distinct_chunks"], "duplicate chunks"
    assert rig.memory.vectors.ids() == pic["ann_ids"], "ANN index and store disagree"
    return pic


def test_first_run_indexes_and_an_unchanged_rerun_embeds_nothing(rig: Rig, docs: Path) -> None:
    for i in range(12):
        write(docs / f"t{i % 3}" / f"n{i}.md", note(f"topic{i}"))
    rig.indexer.library.add(docs)
    first = rig.index()
    assert (first.indexed, first.unchanged, first.skipped, first.failed) == (12, 0, 0, 0)
    assert first.chunks == consistent(rig)["chunk_count"] > 12
    embedded = rig.embedded()
    second = rig.index()
    assert (second.indexed, second.unchanged) == (0, 12)  # size+mtime: not even sent
    assert rig.embedded() == embedded
    status = rig.indexer.status()
    assert status.files_total == 0 and status.phase == "idle"


def test_offline_changes_are_picked_up(rig: Rig, docs: Path) -> None:
    for name in ["keep", "edit", "touch", "gone", "rename", "drafts/d"]:
        write(docs / f"{name}.md", note(name))
    folder, _ = rig.indexer.library.add(docs)
    rig.index()
    before = picture(rig.store)
    ann_of_renamed = {r[0] for r in rig.store.conn.execute(
        "SELECT c.ann_id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?",
        (str(docs / "rename.md"),))}
    embedded = rig.embedded()
    write(docs / "edit.md", note("edited"))
    os.utime(docs / "touch.md", ns=(1, 1))  # mtime only: the hash says unchanged
    (docs / "gone.md").unlink()
    (docs / "rename.md").rename(docs / "renamed.md")
    write(docs / "new.md", note("new"))
    rig.indexer.library.add(docs, ["drafts/"])
    report = rig.index()
    assert (report.indexed, report.moved, report.removed) == (2, 1, 2)
    assert report.unchanged >= 2
    pic = consistent(rig)
    assert set(pic["files"]) == {str(docs / f"{n}.md") for n in
                                 ["keep", "edit", "touch", "renamed", "new"]}
    assert {r[0] for r in rig.store.conn.execute(
        "SELECT c.ann_id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?",
        (str(docs / "renamed.md"),))} == ann_of_renamed  # rows moved, not re-embedded
    edited_chunks = len([c for c in pic["chunks"] if c[0].endswith(("edit.md", "new.md"))])
    assert rig.embedded() - embedded == edited_chunks
    assert before["chunk_count"] != pic["chunk_count"] or before["chunks"] != pic["chunks"]


def test_a_renamed_directory_moves_its_rows(rig: Rig, docs: Path) -> None:
    for i in range(5):
        write(docs / "old" / f"n{i}.md", note(f"dir{i}"))
    rig.indexer.library.add(docs)
    rig.index()
    embedded = rig.embedded()
    (docs / "old").rename(docs / "new")
    report = rig.index()
    assert report.moved == 5 and report.indexed == 0 and rig.embedded() == embedded
    assert all("/new/" in p for p in consistent(rig)["files"])


def test_an_unmounted_folder_is_unavailable_and_keeps_its_index(rig: Rig, tmp_path: Path) -> None:
    mount = tmp_path / "usb" / "notes"
    write(mount / "a.md", note("usb"))
    rig.indexer.library.add(mount)
    rig.index()
    files = picture(rig.store)["files"]
    shutil.move(tmp_path / "usb", tmp_path / "usb-away")
    report = rig.index()
    assert report.unavailable == [str(mount)] and report.removed == 0
    assert picture(rig.store)["files"] == files
    assert rig.indexer.library.folders()[0].status == "unavailable"
    shutil.move(tmp_path / "usb-away", tmp_path / "usb")
    report = rig.index()
    assert report.unavailable == [] and report.unchanged == 1
    assert rig.indexer.library.folders()[0].status == "ok"


def test_skipped_and_failed_files_are_kept_with_reasons(tmp_path: Path) -> None:
    rig = make_rig(tmp_path / "p", IndexingSettings(max_file_mb=1))
    try:
        docs = tmp_path / "docs"
        write(docs / "ok.md", note("ok"))
        write(docs / "binary.txt", "abc\x00def")
        write(docs / "big.txt", "word " * 300_000)
        write(docs / "empty.md", "")
        (docs / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
        rig.indexer.library.add(docs)
        report = rig.index()
        reasons = {i.path.name: (i.status, i.reason) for i in rig.indexer.issues.all()}
        assert reasons["binary.txt"] == ("skipped", "binary content")
        assert reasons["big.txt"] == ("skipped", "larger than 1 MB")
        assert reasons["empty.md"][0] == "skipped"
        assert reasons["broken.docx"][0] == "failed"
        assert report.indexed == 1 and report.skipped == 3 and report.failed == 1
        # Unchanged problem files are not retried at every reconcile...
        again = rig.index()
        assert (again.skipped, again.failed, again.indexed, again.unchanged) == (0, 0, 0, 1)
        # ...but a fixed file is, and leaves the list; --rebuild retries all of them.
        write(docs / "binary.txt", "now text")
        assert rig.index().indexed == 1
        assert "binary.txt" not in {i.path.name for i in rig.indexer.issues.all()}
        assert rig.index(rebuild=True).skipped == 2
    finally:
        rig.close()


def test_permission_denied_is_reported(rig: Rig, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = write(docs / "locked.md", note("locked"))
    write(docs / "open.md", note("open"))
    rig.indexer.library.add(docs)
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root reads anything: inject the error the OS would give a user
        real_stat = Path.stat

        def stat(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self == locked and not kwargs and not args:
                raise PermissionError(13, "Permission denied")
            return real_stat(self, *args, **kwargs)

        monkeypatch.setattr(Path, "stat", stat)
    report = rig.index()
    assert report.indexed == 1
    issue = {i.path.name: i for i in rig.indexer.issues.all()}["locked.md"]
    assert issue.reason == "permission denied"


def test_files_deleted_or_rewritten_while_indexing(rig: Rig, docs: Path) -> None:
    victim = write(docs / "victim.md", note("victim"))
    moving = write(docs / "moving.md", note("before"))
    for i in range(3):
        write(docs / f"n{i}.md", note(f"other{i}"))
    rig.indexer.library.add(docs)
    encode = rig.embedder.encode
    done = []

    def meddle(texts, *, query=False):  # type: ignore[no-untyped-def]
        if not done:  # while the first batch is being embedded
            done.append(1)
            victim.unlink()
            write(moving, note("after the rewrite"))
        return encode(texts, query=query)

    rig.embedder.encode = meddle  # type: ignore[method-assign]
    rig.index()
    rig.embedder.encode = encode  # type: ignore[method-assign]
    rig.index()  # the next reconcile sees the new mtime and the missing file
    pic = consistent(rig)
    assert str(victim) not in pic["files"]
    text = " ".join(r[0] for r in rig.store.conn.execute(
        "SELECT c.text FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?",
        (str(moving),)))
    assert "rewrite" in text and "before" not in text
    assert rig.indexer.issues.all() == []


def test_names_that_are_not_utf8(rig: Rig, docs: Path) -> None:
    raw = os.fsdecode(b"caf\xe9-\xff.md")
    write(docs / raw, note("latin"))
    rig.indexer.library.add(docs)
    assert rig.index().indexed == 1
    (docs / raw).rename(docs / (raw + ".md"))
    report = rig.index()
    assert report.moved == 1 and report.indexed == 0
    assert rig.indexer.library.folders()[0].path == docs


def test_orphans_of_a_removed_folder_are_cleaned(rig: Rig, docs: Path) -> None:
    write(docs / "a.md", note("a"))
    folder, _ = rig.indexer.library.add(docs)
    rig.index()
    rig.indexer.library.forget(folder)  # as if a crash hit between the two halves of remove
    rig.index()
    assert consistent(rig)["files"] == []


def test_remove_folder_forgets_everything(rig: Rig, docs: Path) -> None:
    write(docs / "a.md", note("a"))
    folder, _ = rig.indexer.library.add(docs)
    rig.index()
    assert rig.lanes.index.run(rig.indexer.remove_folder, folder) == 1
    assert consistent(rig)["chunk_count"] == 0 and rig.memory.vectors.count() == 0


def test_progress_reports_files_chunks_and_rate(rig: Rig, docs: Path) -> None:
    for i in range(30):
        write(docs / f"n{i}.md", note(f"p{i}"))
    rig.indexer.library.add(docs)
    seen = []
    state = TaskState(on_progress=seen.append, min_interval=0.0)
    report = rig.lanes.index.submit("t", lambda s: rig.indexer.index_once(state)).result()
    assert report.indexed == 30
    assert seen and seen[-1].done == seen[-1].total == 30
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    status = rig.indexer.status()
    assert status.files_done == 30 and status.chunks == report.chunks and status.chunks_per_s > 0
    assert "30/30 files" in status.line()


def test_a_new_embedding_model_re_embeds_the_stored_chunks(rig: Rig, docs: Path) -> None:
    from app.core.config import MemorySettings
    from app.core.indexing.service import REEMBEDDING, Indexer
    from app.core.memory.ingest import Ingestor, content_hash
    from tests.fixtures.fake_embedder import FakeEmbedder

    for i in range(5):
        write(docs / f"n{i}.md", note(f"koala{i}"))
    rig.indexer.library.add(docs)
    assert rig.index().indexed == 5
    # The next unlock builds the memory services with the model now configured.
    model_b = FakeEmbedder(dim=48, name="model-b")
    ingestor = Ingestor(rig.store, model_b, rig.memory.vectors, MemorySettings())
    indexer = Indexer(rig.store, IndexingSettings(), rig.lanes, lambda: ingestor, content_hash,
                      battery=lambda: False)
    seen = []
    original = indexer.meter.advance

    def advance(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(original(*args, **kwargs))
        return seen[-1]

    indexer.meter.advance = advance  # type: ignore[method-assign]
    try:
        report = rig.lanes.index.run(indexer.index_once)
        assert report.indexed == 0 and report.unchanged == 5  # nothing read from disk again
        assert report.reembedded == rig.store.conn.execute(
            "SELECT count(*) FROM chunks").fetchone()[0]
        models = {r[0] for r in rig.store.conn.execute("SELECT embedding_model FROM files")}
        assert models == {"model-b"}
        chunks = rig.store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert sum(model_b.calls) == chunks  # every chunk once, from the store
        assert consistent(rig)["chunk_count"] == chunks
        assert seen and seen[-1].files_done == seen[-1].files_total == 5
        assert {s.current for s in seen} == {REEMBEDDING}
        assert indexer.status().phase == "idle"
        assert rig.lanes.index.run(indexer.catch_up_embeddings) == 0  # current: nothing to do
    finally:
        indexer.close()


def test_a_model_switched_while_running_re_embeds_and_searches(rig: Rig, docs: Path) -> None:
    """Settings switches the shared embedder live (``Memory.switch_embedder``): the same
    indexer, ingestor and searcher then embed with the new model, and the ANN index holds
    only the new model's vectors."""
    from app.core.memory.ingest import META_MODEL
    from app.core.profile.store import get_meta
    from tests.fixtures.fake_embedder import FakeEmbedder

    for i in range(5):
        write(docs / f"n{i}.md", note(f"koala{i}"))
    rig.indexer.library.add(docs)
    assert rig.index().indexed == 5
    searcher = rig.memory.searcher
    model_b = FakeEmbedder(dim=48, name="model-b")
    rig.lanes.index.run(lambda state: rig.memory.switch_embedder(model_b))
    chunks = rig.store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert rig.lanes.index.run(rig.indexer.catch_up_embeddings) == chunks
    assert sum(model_b.calls) == chunks
    assert {r[0] for r in rig.store.conn.execute("SELECT embedding_model FROM files")} == {
        "model-b"}
    assert get_meta(rig.store.conn, META_MODEL) == "model-b"
    assert rig.memory.vectors.count() == chunks
    [hit] = searcher.search("koala3", k=1, method="dense")
    assert hit.path.name == "n3.md"
    # A file changed afterwards is embedded by the new model only.
    before = sum(rig.embedder.calls)
    write(docs / "n0.md", note("platypus"))
    assert rig.index().indexed == 1
    assert sum(rig.embedder.calls) == before and rig.memory.vectors.count() == chunks
    assert rig.lanes.index.run(rig.indexer.catch_up_embeddings) == 0
