"""The conversation list: newest first, full-text search, rename, delete, export.

Reads and writes run on the ``io`` lane; the list only shows results. Main thread only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import jobs
from app.ui.tasks import UiTasks

ID_ROLE = Qt.ItemDataRole.UserRole


class ConversationList(QWidget):
    conversation_chosen = Signal(int)
    new_requested = Signal()
    conversation_deleted = Signal(int)
    refreshed = Signal()

    def __init__(self, runtime: Any, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.current_id: int | None = None
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.new_requested)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.items = QListWidget()
        self.items.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.items.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.items.setUniformItemSizes(False)
        self.items.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.items.customContextMenuRequested.connect(self._menu)
        self.items.itemActivated.connect(self._chosen)
        self.items.itemClicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.items, 1)

    def refresh(self) -> None:
        self.tasks.run("io", "conversations-list", jobs.list_conversations, self.runtime,
                       self.search.text(), on_done=self._fill)

    def _fill(self, rows: list[tuple[Any, str]]) -> None:
        self.items.clear()
        for conversation, snippet in rows:
            item = QListWidgetItem(conversation.title or "New conversation")
            item.setData(ID_ROLE, conversation.id)
            if snippet:
                item.setToolTip(snippet)
                item.setText(f"{item.text()}\n   {snippet[:80]}")
            self.items.addItem(item)
            if conversation.id == self.current_id:
                item.setSelected(True)
                self.items.setCurrentItem(item)
        self.refreshed.emit()

    def select(self, conversation_id: int | None) -> None:
        self.current_id = conversation_id
        for i in range(self.items.count()):
            item = self.items.item(i)
            item.setSelected(item.data(ID_ROLE) == conversation_id)

    def _chosen(self, item: QListWidgetItem) -> None:
        self.current_id = int(item.data(ID_ROLE))
        self.conversation_chosen.emit(self.current_id)

    def _menu(self, pos: Any) -> None:
        item = self.items.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.ask_rename(item))
        menu.addAction("Export as Markdown…", lambda: self.export(int(item.data(ID_ROLE))))
        menu.addAction("Delete", lambda: self.ask_delete(item))
        menu.exec(self.items.mapToGlobal(pos))

    def ask_rename(self, item: QListWidgetItem) -> None:
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:",
                                         text=item.text().split("\n")[0])
        if ok and title.strip():
            self.rename(int(item.data(ID_ROLE)), title.strip())

    def rename(self, conversation_id: int, title: str) -> None:
        self.tasks.run("io", f"rename-{conversation_id}", jobs.rename_conversation, self.runtime,
                       conversation_id, title, on_done=lambda _r: self.refresh())

    def ask_delete(self, item: QListWidgetItem) -> None:
        answer = QMessageBox.question(self, "Delete conversation",
                                      "Delete this conversation? This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(int(item.data(ID_ROLE)))

    def delete(self, conversation_id: int) -> None:
        self.tasks.run("io", f"delete-{conversation_id}", jobs.delete_conversation, self.runtime,
                       conversation_id, on_done=self._deleted)

    def _deleted(self, conversation_id: int) -> None:
        if self.current_id == conversation_id:
            self.current_id = None
        self.conversation_deleted.emit(conversation_id)
        self.refresh()

    def export(self, conversation_id: int) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation", "conversation.md",
                                              "Markdown (*.md)")
        if path:
            self.tasks.run("io", "export", jobs.export_conversation, self.runtime,
                           conversation_id, path)
