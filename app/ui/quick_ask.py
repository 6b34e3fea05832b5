"""The quick-ask popup: small, frameless, centred on the active screen, input focused.
Enter asks, the answer streams inline with its sources (click opens), Esc hides, "Open in
main window" continues the conversation there. Answers stream from the ``llm`` lane.
Main thread only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCursor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.ui import jobs
from app.ui.chat.markdown_view import MarkdownView
from app.ui.opener import Opener
from app.ui.tasks import UiJob, UiTasks
from app.ui.theme import muted_label


class QuickAsk(QWidget):
    open_in_main = Signal(int)  # conversation id

    def __init__(self, runtime: Any, tasks: UiTasks, opener: Opener | None = None,
                 parent: Any = None):
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.runtime = runtime
        self.tasks = tasks
        self.opener = opener or Opener()
        self.conversation_id: int | None = None
        self.job: UiJob | None = None
        self.message_id: int | None = None
        self.setObjectName("quickAsk")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#quickAsk { border: 1px solid palette(mid); border-radius: 10px;"
                           " background: palette(window); }")
        self.input = QLineEdit()
        self.input.setPlaceholderText("Ask Familiar…")
        self.input.setMinimumHeight(36)
        self.input.returnPressed.connect(self.ask)
        self.answer = MarkdownView()
        self.answer.link_clicked.connect(lambda url: self.opener.open_url(url))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.answer)
        self.answer_area = scroll
        self.sources = QLabel("")
        self.sources.setWordWrap(True)
        self.sources.setOpenExternalLinks(False)
        self.sources.linkActivated.connect(self._open_source)
        self.status = muted_label("Enter to ask · Esc to close")
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.main_button = QPushButton("Open in main window")
        self.main_button.clicked.connect(self._to_main)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.stop_button)
        row.addWidget(self.main_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.input)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.sources)
        layout.addLayout(row)
        self._citations: list[Any] = []
        self.resize(640, 120)
        self._reset()

    # --- showing ----------------------------------------------------------------------------

    def popup(self) -> None:
        """Show centred on the screen under the pointer, input focused."""
        screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        self.move(area.center().x() - self.width() // 2, area.top() + area.height() // 4)
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()
        self.input.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        super().keyPressEvent(event)

    def _reset(self) -> None:
        self.answer_area.setVisible(False)
        self.sources.setVisible(False)
        self.stop_button.setVisible(False)
        self.main_button.setVisible(False)
        self.resize(self.width(), 120)

    # --- asking -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def ask(self) -> None:
        question = self.input.text().strip()
        if not question or self.busy:
            return
        self.answer.set_text("")
        self._citations = []
        self.sources.clear()
        self.answer_area.setVisible(True)
        self.stop_button.setVisible(True)
        self.main_button.setVisible(False)
        self.status.setText("Thinking…")
        self.resize(self.width(), 420)
        self.job = self.tasks.stream("llm", "answer", jobs.ask, self.runtime, question,
                                     self.conversation_id, None, on_batch=self._events,
                                     on_done=lambda _r: self._settle("Enter to ask again"),
                                     on_error=self._failed)
        self.job.cancelled.connect(lambda: self._settle("Stopped."))

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _events(self, events: list[Any]) -> None:
        pieces: list[str] = []
        for event in events:
            if event.conversation_id is not None:
                self.conversation_id = event.conversation_id
            if event.kind == "sources":
                self._show_sources(list(event.sources))
                self.status.setText("Writing…")
            elif event.kind == "token":
                pieces.append(event.text)
            elif event.kind == "done" and event.message is not None:
                self.message_id = event.message.id
                if pieces:
                    self.answer.set_text(self.answer.text + "".join(pieces))
                    pieces = []
                self.answer.set_text(event.message.text)
                self._show_sources(list(event.message.citations))
        if pieces:
            self.answer.set_text(self.answer.text + "".join(pieces))

    def _show_sources(self, citations: list[Any]) -> None:
        self._citations = citations
        links = []
        for c in citations:
            if c.kind == "file" and c.path:
                where = f", {c.location}" if c.location else ""
                links.append(f'<a href="{c.n}">[{c.n}] {_escape(Path(c.path).name)}'
                             f"{_escape(where)}</a>")
        self.sources.setText(" · ".join(links))
        self.sources.setVisible(bool(links))

    def _open_source(self, link: str) -> None:
        for c in self._citations:
            if str(c.n) == link and c.path:
                self.opener.open_file(c.path, c.location)
                if self.message_id is not None:
                    self.tasks.run("io", "record-open", jobs.record_open, self.runtime,
                                   self.message_id, c.chunk_id, c.path, replace=False)
                return

    def _failed(self, exc: BaseException) -> None:
        reason = str(exc) if hasattr(exc, "exit_code") else type(exc).__name__
        self._settle(f"The answer failed: {reason}")

    def _settle(self, note: str) -> None:
        self.job = None
        self.status.setText(note)
        self.stop_button.setVisible(False)
        self.main_button.setVisible(self.conversation_id is not None)
        self.input.selectAll()

    def _to_main(self) -> None:
        if self.conversation_id is not None:
            self.open_in_main.emit(self.conversation_id)
            self.hide()

    def start_over(self) -> None:
        """A fresh conversation the next time the popup opens."""
        if not self.busy:
            self.conversation_id = None
            self.message_id = None
            self.input.clear()
            self._reset()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
