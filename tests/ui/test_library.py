"""The Library page follows a real indexing run of a small folder: folder row, live progress
from the indexer's snapshots, and the skipped file with its reason."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from app.runtime import Runtime
from app.ui.library_page import LibraryPage
from app.ui.tasks import UiTasks
from tests.fixtures.gated_embedder import hold_document_encodes


def test_library_progress_follows_a_real_indexing_run(
        qtbot: Any, runtime: Runtime, tasks: UiTasks, notes: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):
        (notes / f"note{i:02d}.txt").write_text(
            f"Note {i}: the meeting about project {i} moved to room {100 + i}.\n" * 20,
            encoding="utf-8")
    page = LibraryPage(runtime, tasks)
    qtbot.addWidget(page)
    page.show()
    page.start()
    seen: list[Any] = []
    page.status_shown.connect(seen.append)
    states: list[str] = []  # the folder's State cell after each snapshot
    page.status_shown.connect(lambda _s: states.append(page.folders.item(0, 2).text())
                              if page.folders.rowCount() else None)
    # The first batch is embedded once the page has shown the run and the folder being
    # indexed, however fast it would be.
    shown_indexing = threading.Event()
    page.status_shown.connect(lambda s: shown_indexing.set() if s.phase == "indexing" and
                              states and states[-1] == "indexing" else None)
    hold_document_encodes(monkeypatch, runtime.memory.ingestor.embedder, shown_indexing)
    poll = QTimer()
    poll.setInterval(20)  # what the app's status timer does, faster
    poll.timeout.connect(lambda: page.show_status(runtime.indexer.status()))
    poll.start()
    page.add_folder(notes)
    qtbot.waitUntil(lambda: page.folders.rowCount() == 1, timeout=10000)
    assert page.folders.item(0, 0).text() == str(notes)
    total = len(list(notes.iterdir()))
    qtbot.waitUntil(lambda: page.progress.maximum() == total and page.progress.value() == total
                    and seen[-1].phase == "idle", timeout=60000)
    qtbot.waitUntil(lambda: page.issues.rowCount() == 1, timeout=10000)
    poll.stop()
    assert "files" in page.detail.text() and "chunks" in page.detail.text()
    done_counts = [s.files_done for s in seen]
    assert done_counts == sorted(done_counts)  # progress only moves forward within a run
    assert any(s.phase == "indexing" for s in seen)
    # The folder says it is being indexed while its files are, and ready once done.
    assert "indexing" in states
    qtbot.waitUntil(lambda: page.folders.item(0, 2).text() == "ready", timeout=10000)
    # The skipped file and its reason appear once the run is over.
    assert Path(page.issues.item(0, 0).text()).name == "empty.md"
    assert page.issues.item(0, 1).text() == "skipped"
    assert page.issues.item(0, 2).text() == "empty file"


def test_pause_button_reports_and_reflects_state(qtbot: Any, runtime: Runtime,
                                                 tasks: UiTasks) -> None:
    page = LibraryPage(runtime, tasks)
    qtbot.addWidget(page)
    page.start()
    with qtbot.waitSignal(page.pause_toggled) as paused:
        page.pause_button.click()
    assert paused.args == [True] and page.pause_button.text() == "Resume"
    page.show_paused(False)
    assert not page.pause_button.isChecked() and page.pause_button.text() == "Pause"
