"""The catalog of recommended models with fit labels for this machine, and their downloads
(progress, cancel). Shared by the Models page and the first-run wizard. Rating and downloads
run on the ``io`` lane; main thread only."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core.paths import models_dir
from app.core.tasks import Progress, TaskState
from app.ui.tasks import UiJob, UiTasks

TOO_BIG = "too big for this machine"


def rated_catalog(state: TaskState) -> list[Any]:
    from app.core import hardware
    from app.core.engine import catalog, sizing

    machine = sizing.Machine.from_facts(hardware.facts(models_dir().parent))
    return catalog.rate(catalog.load_catalog(), machine)


def download_model(state: TaskState, entry: Any) -> Any:
    from app.core.engine.installed import download_entry

    return download_entry(entry, models_dir(), state=state)


class CatalogPanel(QGroupBox):
    """``downloaded(entry, result)`` when a download completes (result.path is the file)."""

    downloaded = Signal(object, object)
    failed = Signal(object)

    def __init__(self, tasks: UiTasks, parent: Any = None):
        super().__init__("Recommended models", parent)
        self.tasks = tasks
        self.downloads: dict[str, UiJob] = {}
        self.entries: list[Any] = []
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Model", "Size", "On this machine", "License", ""])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_downloads)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        layout.addWidget(self.progress_label)

    @property
    def busy(self) -> bool:
        return bool(self.downloads)

    def refresh(self) -> None:
        self.tasks.run("io", "models-catalog", rated_catalog, on_done=self._fill,
                       on_error=self.failed.emit)

    def _fill(self, rated: list[Any]) -> None:
        self.entries = rated
        self.table.setRowCount(0)
        for r in rated:
            e = r.entry
            row = self.table.rowCount()
            self.table.insertRow(row)
            name = e.name + ("  ★ recommended" if r.recommended else "")
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(f"{e.download_bytes / 2**30:.1f} GB"))
            self.table.setItem(row, 2, QTableWidgetItem(r.label))
            self.table.setItem(row, 3, QTableWidgetItem(e.license))
            button = QPushButton("Download")
            button.setEnabled(r.label != TOO_BIG)
            button.clicked.connect(lambda _c=False, entry=e: self.download(entry))
            self.table.setCellWidget(row, 4, button)

    def download(self, entry: Any) -> None:
        if entry.id in self.downloads:
            return
        job = self.tasks.run("io", f"download-{entry.id}", download_model, entry,
                             on_progress=self._progress,
                             on_done=lambda result: self._finished(entry, result),
                             on_error=lambda exc: self._finished(entry, None, exc),
                             replace=False)
        job.cancelled.connect(lambda: self._finished(entry, None, cancelled=True))
        self.downloads[entry.id] = job
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.cancel_button.setVisible(True)
        self.progress_label.setText(f"Downloading {entry.name}…")

    def _progress(self, p: Progress) -> None:
        if p.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (p.fraction or 0)))
        self.progress_label.setText(p.message)

    def cancel_downloads(self) -> None:
        for job in list(self.downloads.values()):
            job.cancel()

    def _finished(self, entry: Any, result: Any, exc: BaseException | None = None,
                  cancelled: bool = False) -> None:
        self.downloads.pop(entry.id, None)
        self.progress.setVisible(self.busy)
        self.cancel_button.setVisible(self.busy)
        if cancelled or type(exc).__name__ == "DownloadCancelled":
            self.progress_label.setText(f"The download of {entry.name} was cancelled.")
        elif exc is not None:
            self.progress_label.setText("")
            self.failed.emit(exc)
        else:
            self.progress_label.setText(f"{entry.name} is ready.")
            self.downloaded.emit(entry, result)
