"""Background mode: the lane job scheduling, politeness (pause, user first, battery), the
watcher feeding the queue, and the fallback when watching fails."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

from app.core.config import IndexingSettings
from app.core.indexing.progress import IndexReport
from tests.fixtures.indexing import Rig, make_rig, note, picture, write


def drained_event(rig: Rig, until=lambda r: True):  # type: ignore[no-untyped-def]
    event = threading.Event()
    reports: list[IndexReport] = []

    def listener(report: IndexReport) -> None:
        reports.append(report)
        if until(report) and not rig.indexer.queue.pending():
            event.set()

    rig.indexer.drained_listeners.append(listener)
    return event, reports


def test_paused_indexing_waits_and_resumes(rig: Rig, docs: Path) -> None:
    for i in range(5):
        write(docs / f"n{i}.md", note(f"p{i}"))
    rig.indexer.library.add(docs)
    rig.indexer.pause()
    rig.lanes.index.run(lambda s: rig.indexer.reconcile(s))
    report = rig.lanes.index.run(lambda s: rig.indexer.drain(s))
    assert report.indexed == 0 and rig.indexer.queue.pending() == 5
    assert rig.indexer.status().phase == "paused"
    done, _ = drained_event(rig)
    rig.indexer.resume()
    assert done.wait(30)
    assert len(picture(rig.store)["files"]) == 5


def test_a_user_request_comes_first(rig: Rig, docs: Path) -> None:
    write(docs / "a.md", note("a"))
    rig.indexer.library.add(docs)
    rig.lanes.index.run(lambda s: rig.indexer.reconcile(s))
    done, _ = drained_event(rig)
    with rig.indexer.user_request():
        assert rig.indexer.waiting_for() == "user request"
        report = rig.lanes.index.run(lambda s: rig.indexer.drain(s))
        assert report.indexed == 0 and rig.indexer.status().waiting_for == "user request"
        rig.indexer.kick()  # refused while the user waits
        assert rig.indexer.queue.pending() == 1
    assert done.wait(30)  # leaving the request picks the work up again
    assert rig.indexer.queue.pending() == 0


def test_pause_on_battery(tmp_path: Path) -> None:
    rig = make_rig(tmp_path / "p", IndexingSettings(pause_on_battery=True))
    try:
        rig.indexer._battery = lambda: True
        assert rig.indexer.waiting_for() == "on battery"
        rig.indexer.settings.pause_on_battery = False
        assert rig.indexer.waiting_for() == ""
    finally:
        rig.close()


def test_the_index_lane_runs_at_low_priority(rig: Rig) -> None:
    import os

    nice = rig.lanes.index.run(lambda s: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert nice >= 10


def wait_until(rig: Rig, predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    """Re-check ``predicate`` after every background drain (no sleeping)."""
    cond = threading.Condition()

    def listener(_report: IndexReport) -> None:
        with cond:
            cond.notify_all()

    rig.indexer.drained_listeners.append(listener)
    try:
        with cond:
            return cond.wait_for(predicate, timeout)
    finally:
        rig.indexer.drained_listeners.remove(listener)


def test_start_reconciles_then_watches(tmp_path: Path, docs: Path) -> None:
    rig = make_rig(tmp_path / "p", IndexingSettings(debounce_s=0.05))
    try:
        write(docs / "a.md", note("a"))
        rig.indexer.library.add(docs)
        rig.indexer.start()
        assert wait_until(rig, lambda: picture(rig.store)["files"] == [str(docs / "a.md")])
        embedded = rig.embedded()
        write(docs / "b.md", note("b"))
        (docs / "a.md").rename(docs / "c.md")
        want = [str(docs / "b.md"), str(docs / "c.md")]
        assert wait_until(rig, lambda: sorted(picture(rig.store)["files"]) == want)
        assert rig.embedded() - embedded == len([c for c in picture(rig.store)["chunks"]
                                                 if c[0].endswith("b.md")])
    finally:
        rig.close()


def test_watch_failures_are_reported_and_fall_back_to_reconcile(
        tmp_path: Path, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchdog.observers.api import BaseObserver

    def refuse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(BaseObserver, "schedule", refuse)
    rig = make_rig(tmp_path / "p", IndexingSettings(fallback_reconcile_s=0.2))
    try:
        rig.indexer.library.add(docs)
        done, _ = drained_event(rig, until=lambda r: r.indexed > 0)
        rig.indexer.start()
        write(docs / "late.md", note("late"))  # no watch: the periodic reconcile finds it
        assert done.wait(30)
        assert rig.indexer.watch_problems and "watch limit" in rig.indexer.watch_problems[0]
        assert str(docs / "late.md") in picture(rig.store)["files"]
    finally:
        rig.close()
