"""Live watching: the coalescer (fake clock) and the real watchdog observer on real folders."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.indexing.library import Folder
from app.core.indexing.queue import Job
from app.core.indexing.watcher import Coalescer, Watcher
from tests.fixtures.indexing import Rig, note, picture, write


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


ROOT = Path("/w")
FOLDER = Folder(7, ROOT, (), 0.0, "ok", None)


def coalescer(clock: Clock, **kw: int) -> Coalescer:
    return Coalescer(lambda p: FOLDER if p.is_relative_to(ROOT) else None, debounce_s=1.0,
                     clock=clock, **kw)


def summary(jobs: list[Job]) -> list[tuple[str, str, str | None]]:
    return [(j.kind, j.path.name, j.dest.name if j.dest else None) for j in jobs]


def test_events_wait_for_quiet_then_come_out_once_each_in_order() -> None:
    clock = Clock()
    c = coalescer(clock)
    c.changed(ROOT / "a.md")
    c.changed(ROOT / "b.md")
    c.changed(ROOT / "a.md")
    c.changed(ROOT / "sub", is_dir=True)
    c.changed(Path("/elsewhere/x.md"))
    clock.now += 0.5
    assert c.ready() == []
    clock.now += 0.6
    assert summary(c.ready()) == [("sync", "b.md", None), ("sync", "a.md", None),
                                  ("scan", "sub", None)]
    assert c.ready() == []


def test_a_long_burst_is_flushed_after_the_maximum_delay() -> None:
    clock = Clock()
    c = Coalescer(lambda p: FOLDER, debounce_s=1.0, max_delay_s=5.0, clock=clock)
    for i in range(60):
        c.changed(ROOT / f"f{i % 7}.md")
        clock.now += 0.1
        assert c.ready() == [] or clock.now - 100.0 >= 5.0
    assert len(c) <= 7


def test_a_burst_of_thousands_processes_each_file_once_with_bounded_memory() -> None:
    clock = Clock()
    c = coalescer(clock, max_pending=50_000)
    for _round in range(3):  # a checkout touches every file several times
        for i in range(10_000):
            c.changed(ROOT / f"d{i % 50}" / f"f{i}.md")
    clock.now += 2
    jobs = c.ready()
    assert len(jobs) == 10_000 and len({j.path for j in jobs}) == 10_000
    small = coalescer(clock, max_pending=1000)
    for i in range(10_000):
        small.changed(ROOT / f"f{i}.md")
        assert len(small) <= 1001
    clock.now += 2
    assert summary(small.ready()) == [("scan", "w", None)]  # one reconcile of the folder


def test_editor_atomic_save_and_rename_chains() -> None:
    clock = Clock()
    c = coalescer(clock)
    # gedit/VS Code: write a temp file, rename it over the original
    c.changed(ROOT / ".goutputstream-XYZ")
    c.moved(ROOT / ".goutputstream-XYZ", ROOT / "doc.md")
    # a -> b -> c in one burst is one move a -> c
    c.moved(ROOT / "a.md", ROOT / "b.md")
    c.changed(ROOT / "b.md")
    c.moved(ROOT / "b.md", ROOT / "c.md")
    # moved in from outside the library: new content; moved out: gone
    c.moved(Path("/tmp/dl.md"), ROOT / "dl.md")
    c.moved(ROOT / "old.md", Path("/trash/old.md"))
    clock.now += 2
    assert summary(c.ready()) == [("move", ".goutputstream-XYZ", "doc.md"),
                                  ("move", "a.md", "c.md"), ("sync", "dl.md", None),
                                  ("sync", "old.md", None)]


def test_a_directory_move_implies_the_moves_below_it() -> None:
    clock = Clock()
    c = coalescer(clock)
    c.moved(ROOT / "old", ROOT / "new", is_dir=True)
    for i in range(100):  # watchdog repeats the move for every file below
        c.moved(ROOT / "old" / f"f{i}.md", ROOT / "new" / f"f{i}.md")
    c.moved(ROOT / "other" / "x.md", ROOT / "new" / "x.md")
    clock.now += 2
    assert summary(c.ready()) == [("move", "old", "new"), ("move", "x.md", "x.md")]


# --- the real observer ------------------------------------------------------------------------

class Collector:
    """A sink that records jobs and lets a test wait until a condition holds."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.batches: list[list[Job]] = []
        self._cond = threading.Condition()

    def __call__(self, jobs: list[Job]) -> None:
        with self._cond:
            self.batches.append(list(jobs))
            self.jobs.extend(jobs)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 20.0) -> list[Job]:  # type: ignore[no-untyped-def]
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.jobs), timeout), summary(self.jobs)
            return list(self.jobs)

    def clear(self) -> None:
        with self._cond:
            self.jobs.clear()


@pytest.fixture
def watched(rig: Rig, docs: Path) -> Iterator[tuple[Watcher, Collector]]:
    rig.indexer.library.add(docs)
    sink = Collector()
    problems: list[str] = []
    watcher = Watcher(rig.indexer.library, sink, debounce_s=0.05, on_problem=problems.append)
    watcher.start()
    assert watcher.watching() == 1
    yield watcher, sink
    watcher.stop()


def has(kind: str, name: str, dest: str | None = None):  # type: ignore[no-untyped-def]
    return lambda jobs: any(j.kind == kind and j.path.name == name and
                            (dest is None or (j.dest is not None and j.dest.name == dest))
                            for j in jobs)


def test_observer_reports_every_kind_of_change(watched: tuple[Watcher, Collector],
                                               docs: Path) -> None:
    _watcher, sink = watched
    write(docs / "new.md", "hello")
    sink.wait_for(has("sync", "new.md"))
    sink.clear()
    with open(docs / "new.md", "a") as fh:
        fh.write(" more")
    sink.wait_for(has("sync", "new.md"))
    sink.clear()
    (docs / "new.md").rename(docs / "renamed.md")
    sink.wait_for(has("move", "new.md", "renamed.md"))
    sink.clear()
    (docs / "renamed.md").unlink()
    sink.wait_for(has("sync", "renamed.md"))
    sink.clear()
    (docs / "dir").mkdir()
    write(docs / "dir" / "x.md", "x")
    (docs / "dir").rename(docs / "dir2")
    jobs = sink.wait_for(has("move", "dir", "dir2"))
    assert not any(j.kind == "move" and j.path.name == "x.md" for j in jobs)
    sink.clear()
    write(docs / "node_modules" / "skip.md", "x")
    write(docs / ".tmp-save", "draft")
    os.replace(docs / ".tmp-save", docs / "saved.md")  # an editor's atomic save
    jobs = sink.wait_for(has("move", ".tmp-save", "saved.md"))
    assert not any("node_modules" in str(j.path) for j in jobs)


def test_watched_changes_reach_the_index_and_renames_are_not_re_embedded(
        rig: Rig, docs: Path) -> None:
    write(docs / "a.md", note("alpha"))
    rig.indexer.library.add(docs)
    rig.index()
    embedded = rig.embedded()
    landed = threading.Event()
    watcher = Watcher(rig.indexer.library, lambda jobs: (rig.indexer.queue.push(jobs),
                                                         landed.set()), debounce_s=0.05)
    watcher.start()
    try:
        (docs / "a.md").rename(docs / "b.md")
        assert landed.wait(20)
    finally:
        watcher.stop()
    report = rig.drain()
    assert report.moved == 1 and report.indexed == 0 and rig.embedded() == embedded
    assert picture(rig.store)["files"] == [str(docs / "b.md")]


def test_a_deleted_watched_folder_is_reported(rig: Rig, tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    rig.indexer.library.add(folder)
    problems: list[str] = []
    reported = threading.Event()
    watcher = Watcher(rig.indexer.library, lambda jobs: None, debounce_s=0.05,
                      on_problem=lambda m: (problems.append(m), reported.set()))
    watcher.start()
    try:
        folder.rmdir()
        assert reported.wait(20)
    finally:
        watcher.stop()
    assert "deleted or unmounted" in problems[0]


def test_a_real_burst_of_thousands_of_events(rig: Rig, docs: Path) -> None:
    """A checkout-like burst through the real observer: every file comes out exactly once;
    with a small bound the burst collapses into one scan of the folder."""
    rig.indexer.library.add(docs)
    for bound, expect_scan in ((100_000, False), (500, True)):
        sink = Collector()
        watcher = Watcher(rig.indexer.library, sink, debounce_s=1.0, max_pending=bound)
        watcher.start()
        try:
            names = [f"b{bound}" / Path(f"d{i % 20}") / f"f{i}.md" for i in range(1000)]
            for name in names:
                write(docs / name, "v1")
            for name in names[::2]:  # touched twice in the same burst
                (docs / name).write_text("v2")
            if expect_scan:
                jobs = sink.wait_for(lambda js: any(j.kind == "scan" and j.path == docs
                                                    for j in js))
                assert len(jobs) <= bound + 1
            else:
                want = len(names)
                jobs = sink.wait_for(lambda js, want=want: len(
                    {j.path for j in js if j.kind == "sync"}) >= want)
                syncs = [j.path for j in jobs if j.kind == "sync"]
                assert set(syncs) == {docs / n for n in names}
                for batch in sink.batches:  # a burst (no 1 s pause) comes out once per file
                    assert len(batch) == len({j.path for j in batch})
                if len(sink.batches) == 1:
                    assert len(syncs) == len(names)
        finally:
            watcher.stop()
