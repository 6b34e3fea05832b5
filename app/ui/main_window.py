"""The main window: a sidebar of pages (Chat, Library, Models, Settings) over one stack.

Closing it keeps the app in the tray (``hidden_to_tray`` tells the app, which shows the
one-time notice). It holds nothing of the profile beyond its pages: the app drops it on lock.
Main thread only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from app.ui.chat.chat_page import ChatPage


class MainWindow(QMainWindow):
    hidden_to_tray = Signal()
    closed = Signal()  # really closed (no tray to live in): the app quits

    def __init__(self, chat: ChatPage, pages: list[tuple[str, QWidget]] | None = None,
                 parent: Any = None):
        super().__init__(parent)
        self.setWindowTitle("Familiar")
        self.keep_in_tray = False
        self.chat = chat
        self.nav = QListWidget()
        self.nav.setFixedWidth(130)
        self.nav.setObjectName("nav")
        self.nav.setStyleSheet("#nav { border: none; background: palette(base); }"
                               " #nav::item { padding: 9px 12px; }")
        self.nav.setIconSize(QSize(20, 20))
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        for name, page in [("Chat", chat), *(pages or [])]:
            self.add_page(name, page)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.resize(1240, 780)

    def add_page(self, name: str, page: QWidget) -> None:
        self.pages[name] = page
        self.nav.addItem(QListWidgetItem(name))
        self.stack.addWidget(page)

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(list(self.pages).index(name))

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.keep_in_tray:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
            return
        super().closeEvent(event)
        self.closed.emit()
