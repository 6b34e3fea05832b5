"""The Library page: watched folders with their rules, live indexing progress (files,
chunks/s, ETA) with pause/resume, and the skipped/failed files with their reasons.

The app polls ``indexer.status()`` (a lock-guarded snapshot) and hands it to ``show_status``;
folder changes and issue lists go through the ``io`` and ``index`` lanes. Main thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.indexing.rules import DEFAULT_EXCLUDES
from app.core.tasks import TaskState
from app.ui.tasks import UiTasks
from app.ui.theme import muted_label


def _folders(state: TaskState, runtime: Any) -> list[Any]:
    return list(runtime.indexer.library.folders())


def _issues(state: TaskState, runtime: Any) -> list[Any]:
    return list(runtime.indexer.issues.all())


def _add_folder(state: TaskState, runtime: Any, path: Path, excludes: list[str]) -> Any:
    folder, _added = runtime.indexer.library.add(path, excludes)
    runtime.indexer.submit_reconcile([folder])
    return folder


def _remove_folder(state: TaskState, runtime: Any, folder_id: int) -> int:
    folder = runtime.indexer.library.get(folder_id)
    if folder is None:
        return 0
    removed: int = runtime.indexer.remove_folder(state, folder)
    return removed


def _reindex(state: TaskState, runtime: Any) -> None:
    runtime.indexer.submit_reconcile()


class LibraryPage(QWidget):
    status_shown = Signal(object)  # the IndexStatus just drawn
    pause_toggled = Signal(bool)  # True: pause

    def __init__(self, runtime: Any, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self._last_phase = ""
        self._folder_states: list[tuple[Path, str]] = []  # (path, state when not indexing)
        self._run: tuple[str, Path | None] = ("idle", None)  # phase, file being indexed

        self.folders = QTableWidget(0, 3)
        self.folders.setHorizontalHeaderLabels(["Folder", "Own rules", "State"])
        self.folders.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.folders.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.folders.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.folders.verticalHeader().setVisible(False)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._pick)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        rescan = QPushButton("Check for changes")
        rescan.clicked.connect(lambda: self.tasks.run("io", "reconcile", _reindex, self.runtime))
        buttons = QHBoxLayout()
        for b in (add, self.remove_button, rescan):
            buttons.addWidget(b)
        buttons.addStretch(1)
        defaults = muted_label("Always left out: " + "  ".join(DEFAULT_EXCLUDES[:14]) + "  …  "
                               "(plus .gitignore files; a folder's own rules use gitignore "
                               "syntax, !pattern re-includes)", wrap=True)
        folders_box = QGroupBox("Folders")
        fl = QVBoxLayout(folders_box)
        fl.addWidget(self.folders)
        fl.addLayout(buttons)
        fl.addWidget(defaults)

        self.phase = QLabel("Idle")
        self.phase.setStyleSheet("font-weight: 600;")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.detail = QLabel("")
        self.current = muted_label()
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_clicked)
        progress_box = QGroupBox("Indexing")
        pl = QVBoxLayout(progress_box)
        row = QHBoxLayout()
        row.addWidget(self.phase)
        row.addStretch(1)
        row.addWidget(self.pause_button)
        pl.addLayout(row)
        pl.addWidget(self.progress)
        pl.addWidget(self.detail)
        pl.addWidget(self.current)

        self.issues = QTableWidget(0, 3)
        self.issues.setHorizontalHeaderLabels(["File", "Status", "Reason"])
        self.issues.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.issues.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.issues.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.issues.verticalHeader().setVisible(False)
        issues_box = QGroupBox("Skipped and failed files")
        il = QVBoxLayout(issues_box)
        il.addWidget(self.issues)

        layout = QVBoxLayout(self)
        layout.addWidget(folders_box, 2)
        layout.addWidget(progress_box, 0)
        layout.addWidget(issues_box, 2)

    def start(self) -> None:
        self.show_paused(self.runtime.settings.indexing.paused)
        self.refresh()

    def refresh(self) -> None:
        self.tasks.run("io", "library-folders", _folders, self.runtime, on_done=self._fill_folders)
        self.tasks.run("io", "library-issues", _issues, self.runtime, on_done=self._fill_issues)

    # --- folders ----------------------------------------------------------------------------

    def _fill_folders(self, folders: list[Any]) -> None:
        self.folders.setRowCount(0)
        self._folder_states = [(Path(folder.path), "ready" if folder.status == "ok" else
                                "not available (index kept)") for folder in folders]
        for folder in folders:
            row = self.folders.rowCount()
            self.folders.insertRow(row)
            item = QTableWidgetItem(str(folder.path))
            item.setData(Qt.ItemDataRole.UserRole, folder.id)
            self.folders.setItem(row, 0, item)
            self.folders.setItem(row, 1, QTableWidgetItem(", ".join(folder.excludes) or "—"))
            self.folders.setItem(row, 2, QTableWidgetItem(self._folder_states[row][1]))
        self._show_folder_states()

    def _show_folder_states(self) -> None:
        """The folder holding the file being indexed says so (or paused / waiting), not
        "ready"; the others keep their own state."""
        phase, current = self._run
        for row, (path, state) in enumerate(self._folder_states):
            if (state == "ready" and current and phase in ("indexing", "paused", "waiting")
                    and current.is_relative_to(path)):
                state = phase
            item = self.folders.item(row, 2)
            if item is not None and item.text() != state:
                item.setText(state)

    def _pick(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder")
        if not path:
            return
        rules, ok = QInputDialog.getMultiLineText(
            self, "Rules for this folder",
            "Extra patterns to leave out (gitignore syntax, one per line; optional):")
        if ok:
            self.add_folder(Path(path), [r.strip() for r in rules.splitlines() if r.strip()])

    def add_folder(self, path: Path, excludes: list[str] | None = None) -> None:
        self.tasks.run("io", f"add-folder-{path}", _add_folder, self.runtime, path,
                       excludes or [], on_done=lambda _f: self.refresh(),
                       on_error=self._error, replace=False)

    def _remove_selected(self) -> None:
        rows = {i.row() for i in self.folders.selectedItems()}
        for row in rows:
            item = self.folders.item(row, 0)
            if item is None:
                continue
            folder_id = int(item.data(Qt.ItemDataRole.UserRole))
            self.tasks.run("index", f"remove-folder-{folder_id}", _remove_folder, self.runtime,
                           folder_id, on_done=lambda _n: self.refresh(), replace=False)

    def _error(self, exc: BaseException) -> None:
        self.detail.setText(str(exc) if hasattr(exc, "exit_code") else type(exc).__name__)

    # --- progress ---------------------------------------------------------------------------

    def show_status(self, status: Any) -> None:
        """Draw one ``IndexStatus`` snapshot (called by the app's status timer)."""
        labels = {"idle": "Up to date", "reconciling": "Looking for changes…",
                  "indexing": "Indexing", "paused": "Paused", "waiting": "Waiting"}
        self.phase.setText(labels.get(status.phase, status.phase))
        total = max(status.files_total, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(min(status.files_done, total) if status.files_total else 0)
        self.detail.setText(status.line() if status.files_total else "")
        self.current.setText(Path(status.current).name if status.current and
                             status.phase == "indexing" else "")
        self._run = (status.phase, Path(status.current) if status.current else None)
        self._show_folder_states()
        if self._last_phase in ("indexing", "reconciling") and status.phase == "idle":
            self.refresh()
        self._last_phase = status.phase
        self.status_shown.emit(status)

    def show_paused(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)

    def _pause_clicked(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_toggled.emit(paused)

    # --- skipped / failed -------------------------------------------------------------------

    def _fill_issues(self, issues: list[Any]) -> None:
        self.issues.setRowCount(0)
        for issue in issues:
            row = self.issues.rowCount()
            self.issues.insertRow(row)
            self.issues.setItem(row, 0, QTableWidgetItem(str(issue.path)))
            self.issues.setItem(row, 1, QTableWidgetItem(issue.status))
            self.issues.setItem(row, 2, QTableWidgetItem(issue.reason))
