"""The Models page: the catalog with fit labels for this machine, downloads with progress and
cancel, the models on this computer with the active one, and importing a local GGUF.

Catalog rating, downloads, copies and hashing run on the ``io`` lane; switching the active
model runs on the ``llm`` lane so it never races an answer. Main thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.paths import models_dir
from app.core.tasks import TaskState
from app.ui.catalog_panel import CatalogPanel
from app.ui.tasks import UiTasks


def _local(state: TaskState, runtime: Any) -> list[dict[str, Any]]:
    from app.core.engine.installed import ModelRefs, local_models

    return local_models(models_dir()) + ModelRefs(runtime.store).list()


def _import(state: TaskState, runtime: Any, path: Path, reference: bool) -> Path:
    from app.core.engine.gguf_check import require_model
    from app.core.engine.installed import ModelRefs, file_sha256, import_copy

    if reference:
        info = require_model(path)
        ModelRefs(runtime.store).add(path, info, file_sha256(path, state))
        return path
    return import_copy(path, models_dir(), state=state).path


def use_model(state: TaskState, runtime: Any, path: str) -> str:
    """Make ``path`` the active model. On the llm lane: no answer is running; the next one
    builds the assistant over the new engine (the old engine is closed here)."""
    runtime.set_model(path)
    return path


class ModelsPage(QWidget):
    def __init__(self, runtime: Any, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.catalog_panel = CatalogPanel(tasks)
        self.catalog = self.catalog_panel.table
        self.catalog_panel.downloaded.connect(self._downloaded)
        self.catalog_panel.failed.connect(self._error)

        self.active = QLabel("")
        self.active.setWordWrap(True)
        self.local = QTableWidget(0, 3)
        self.local.setHorizontalHeaderLabels(["File", "Size", "Source"])
        self.local.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.local.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.local.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.local.verticalHeader().setVisible(False)
        use = QPushButton("Use selected")
        use.clicked.connect(self._use_selected)
        self.reference = QCheckBox("Keep the file where it is (no copy)")
        import_button = QPushButton("Import GGUF…")
        import_button.clicked.connect(self._pick)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        local_box = QGroupBox("On this computer")
        ll = QVBoxLayout(local_box)
        ll.addWidget(self.active)
        ll.addWidget(self.local)
        row = QHBoxLayout()
        row.addWidget(use)
        row.addStretch(1)
        row.addWidget(self.reference)
        row.addWidget(import_button)
        ll.addLayout(row)
        ll.addWidget(self.note)

        layout = QVBoxLayout(self)
        layout.addWidget(self.catalog_panel, 3)
        layout.addWidget(local_box, 2)
        self._show_active()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        self.catalog_panel.refresh()
        self.tasks.run("io", "models-local", _local, self.runtime, on_done=self._fill_local,
                       on_error=self._error)

    def _switched(self, _path: object) -> None:
        self._show_active()
        self.note.setText("")

    def _show_active(self) -> None:
        path = self.runtime.settings.engine.model_path
        self.active.setText(f"Active model: {Path(path).name}" if path else
                            "No active model: answers quote your files (extractive mode).")

    def _fill_local(self, models: list[dict[str, Any]]) -> None:
        self.local.setRowCount(0)
        for m in models:
            row = self.local.rowCount()
            self.local.insertRow(row)
            item = QTableWidgetItem(m.get("name") or Path(m["path"]).name)
            item.setData(Qt.ItemDataRole.UserRole, m["path"])
            item.setToolTip(m["path"])
            self.local.setItem(row, 0, item)
            self.local.setItem(row, 1, QTableWidgetItem(f"{m['size_bytes'] / 2**30:.2f} GB"))
            self.local.setItem(row, 2, QTableWidgetItem(str(m.get("source", ""))))
        self._show_active()

    def _downloaded(self, entry: Any, _result: Any) -> None:
        self.note.setText(f"{entry.name} is ready: select it below and press Use selected.")
        self.refresh()

    # --- import and use ---------------------------------------------------------------------

    def _pick(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "GGUF models (*.gguf)")
        if path:
            self.import_file(Path(path), self.reference.isChecked())

    def import_file(self, path: Path, reference: bool = False) -> None:
        self.note.setText("Checking and importing…")
        self.tasks.run("io", "models-import", _import, self.runtime, path, reference,
                       on_done=self._imported, on_error=self._error,
                       on_progress=lambda p: self.note.setText(p.message or "Importing…"))

    def _imported(self, path: Path) -> None:
        self.note.setText(f"Imported {path.name}.")
        self.refresh()

    def _use_selected(self) -> None:
        rows = {i.row() for i in self.local.selectedItems()}
        item = self.local.item(min(rows), 0) if rows else None
        if item is not None:
            self.use(item.data(Qt.ItemDataRole.UserRole))

    def use(self, path: str) -> None:
        self.note.setText("Switching model…")
        self.tasks.run("llm", "use-model", use_model, self.runtime, path,
                       on_done=self._switched,
                       on_error=self._error)

    def _error(self, exc: BaseException) -> None:
        self.note.setText(str(exc) if hasattr(exc, "exit_code") else
                          f"Something went wrong ({type(exc).__name__}).")
