"""The Memory page: what Familiar has learned about the person (text, kind, when), editable
and forgettable. Reads and writes go through ``runtime.memories`` on the ``personal`` lane
(the memory bank's writer). Main thread only."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.tasks import TaskState
from app.ui.tasks import UiTasks


def _entries(state: TaskState, runtime: Any) -> list[Any]:
    return list(runtime.memories.entries())


def _edit(state: TaskState, runtime: Any, memory_id: int, text: str) -> Any:
    return runtime.memories.edit(memory_id, text)


def _forget(state: TaskState, runtime: Any, memory_id: int) -> int:
    runtime.memories.forget(memory_id)
    return memory_id


class MemoryPage(QWidget):
    def __init__(self, runtime: Any, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        intro = QLabel("What Familiar has learned about you from your conversations. It uses "
                       "these to answer in context. Edit anything that is wrong; forgotten "
                       "memories are not learned again from the same messages.")
        intro.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Memory", "Kind", "Learned"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.itemDoubleClicked.connect(lambda _i: self._ask_edit())
        edit = QPushButton("Edit…")
        edit.clicked.connect(self._ask_edit)
        forget = QPushButton("Forget")
        forget.clicked.connect(self._ask_forget)
        self.note = QLabel("")
        row = QHBoxLayout()
        row.addWidget(edit)
        row.addWidget(forget)
        row.addStretch(1)
        row.addWidget(self.note)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        self.tasks.run("personal", "memory-list", _entries, self.runtime, on_done=self._fill,
                       on_error=self._error)

    def _fill(self, entries: list[Any]) -> None:
        self.table.setRowCount(0)
        for m in entries:
            row = self.table.rowCount()
            self.table.insertRow(row)
            item = QTableWidgetItem(m.text)
            item.setData(Qt.ItemDataRole.UserRole, m.id)
            item.setToolTip(m.text)
            self.table.setItem(row, 0, item)
            self.table.setItem(row, 1, QTableWidgetItem(m.kind + (" (edited)" if m.edited else "")))
            self.table.setItem(row, 2, QTableWidgetItem(time.strftime("%Y-%m-%d",
                                                                      time.localtime(m.created))))
        self.note.setText(f"{len(entries)} memories" if entries else "Nothing learned yet.")

    def _selected(self) -> tuple[int, str] | None:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        if not rows:
            return None
        item = self.table.item(rows[0], 0)
        if item is None:
            return None
        return int(item.data(Qt.ItemDataRole.UserRole)), item.text()

    def _ask_edit(self) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Edit memory", "Memory:", chosen[1])
        if ok and text.strip() and text.strip() != chosen[1]:
            self.edit(chosen[0], text.strip())

    def edit(self, memory_id: int, text: str) -> None:
        self.tasks.run("personal", f"memory-edit-{memory_id}", _edit, self.runtime, memory_id,
                       text, on_done=lambda _m: self.refresh(), on_error=self._error,
                       replace=False)

    def _ask_forget(self) -> None:
        chosen = self._selected()
        if chosen is None:
            return
        answer = QMessageBox.question(self, "Forget memory", "Forget this memory?")
        if answer == QMessageBox.StandardButton.Yes:
            self.forget(chosen[0])

    def forget(self, memory_id: int) -> None:
        self.tasks.run("personal", f"memory-forget-{memory_id}", _forget, self.runtime,
                       memory_id, on_done=lambda _m: self.refresh(), on_error=self._error,
                       replace=False)

    def _error(self, exc: BaseException) -> None:
        self.note.setText(str(exc) if hasattr(exc, "exit_code") else
                          f"Something went wrong ({type(exc).__name__}).")
