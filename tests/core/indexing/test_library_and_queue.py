"""Folders in the library, and the persistent job queue (coalescing, order, crash safety)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.indexing.library import FolderError
from app.core.indexing.queue import MAX_ATTEMPTS, Job, JobQueue
from app.core.profile.store import Store
from tests.fixtures.indexing import Rig


def test_add_list_find_remove(rig: Rig, tmp_path: Path) -> None:
    lib = rig.indexer.library
    (tmp_path / "a").mkdir()
    folder, new = lib.add(tmp_path / "a" / ".." / "a", ["*.log"])
    assert new and folder.path == tmp_path / "a" and folder.excludes == ("*.log",)
    again, new = lib.add(tmp_path / "a", ["*.log", "drafts/"])
    assert not new and again.id == folder.id and again.excludes == ("*.log", "drafts/")
    assert [f.path for f in lib.folders()] == [tmp_path / "a"]
    assert lib.folder_for(tmp_path / "a" / "x" / "y.md") == again
    lib.forget(again)
    assert lib.folders() == [] and lib.find(tmp_path / "a") is None


def test_add_refuses_what_cannot_be_watched(rig: Rig, tmp_path: Path) -> None:
    lib = rig.indexer.library
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "file.md").write_text("x")
    with pytest.raises(FolderError):
        lib.add(tmp_path / "missing")
    with pytest.raises(FolderError):
        lib.add(tmp_path / "file.md")
    lib.add(tmp_path / "a" / "b")
    with pytest.raises(FolderError, match="contains"):
        lib.add(tmp_path / "a")
    lib.add(tmp_path / "a" / "b")  # the same folder again is fine
    (tmp_path / "a" / "b" / "c").mkdir()
    with pytest.raises(FolderError, match="already watched"):
        lib.add(tmp_path / "a" / "b" / "c")
    with pytest.raises(ValueError):
        lib.add(tmp_path / "a" / "b", ["  "])


def test_a_pushed_sync_moves_to_the_end_and_moves_keep_their_order(rig: Rig) -> None:
    q = rig.indexer.queue
    a, b, c = Path("/x/a.md"), Path("/x/b.md"), Path("/x/c.md")
    q.push([Job("sync", a, 1), Job("move", a, 1, dest=b), Job("sync", c, 1, force=True)])
    q.push([Job("sync", a, 1), Job("sync", c, 1), Job("move", b, 1, dest=c)])
    jobs = q.take(10)
    assert [(j.kind, j.path, j.dest) for j in jobs] == [
        ("move", a, b), ("sync", a, None), ("sync", c, None), ("move", b, c)]
    assert jobs[2].force  # a forced sync stays forced when pushed again
    q.done(jobs[:2])
    assert [j.kind for j in q.take(10)] == ["sync", "move"] and q.pending() == 2


def test_jobs_survive_a_reopen_and_failed_ones_are_dropped_after_retries(tmp_path: Path) -> None:
    key = os.urandom(32)
    store = Store(tmp_path / "store.db", key)
    JobQueue(store).push([Job("sync", Path("/x/\udcff.md"), 1), Job("scan", Path("/x"), 1)])
    store.close()
    store = Store(tmp_path / "store.db", key)
    q = JobQueue(store)
    jobs = q.take(10)
    assert [j.path for j in jobs] == [Path("/x/\udcff.md"), Path("/x")]
    job = jobs[0]
    for _attempt in range(MAX_ATTEMPTS - 1):
        assert q.retry_later(q.take(1)[0])
    assert not q.retry_later(q.take(1)[0])
    assert [j.path for j in q.take(10)] == [Path("/x")]
    assert job.attempts == 0
    store.close()
