"""The chat: transcript, question box, streaming with stop, regenerate, edit last question,
and a file dropped onto it to ask about that file only.

Answers stream from the ``llm`` lane through ``UiTasks.stream`` in batches; this view only
draws them. Main thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.ui import jobs
from app.ui.chat.message_widget import MessageWidget
from app.ui.tasks import UiJob, UiTasks
from app.ui.theme import muted_label


class QuestionBox(QPlainTextEdit):
    """Enter sends, Shift+Enter makes a new line."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatView(QWidget):
    conversation_changed = Signal(object)  # int | None
    answer_selected = Signal(object)  # MessageWidget
    sources_arrived = Signal(list)  # citations of the answer being written
    answer_finished = Signal(object)  # the stored Message
    busy_changed = Signal(bool)

    def __init__(self, runtime: Any, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.runtime = runtime
        self.tasks = tasks
        self.conversation_id: int | None = None
        self.only_path: str | None = None
        self.job: UiJob | None = None
        self.editing = False
        self.widgets: list[MessageWidget] = []
        self._streaming: MessageWidget | None = None
        self._saw_done = False
        self.setAcceptDrops(True)

        self._inner = QWidget()
        self._transcript = QVBoxLayout(self._inner)
        self._transcript.setSpacing(8)
        self._transcript.addStretch(1)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setWidget(self._inner)
        self.scroller.verticalScrollBar().rangeChanged.connect(self._follow)
        self.welcome = QLabel("Ask anything about your files. Drop a file here to ask about "
                              "that file only.")
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setWordWrap(True)
        self._transcript.insertWidget(0, self.welcome)

        self.file_chip = QLabel("")
        self.clear_file = QPushButton("✕")
        self.clear_file.setFlat(True)
        self.clear_file.setFixedWidth(28)
        self.clear_file.clicked.connect(lambda: self.set_only_path(None))
        chip = QHBoxLayout()
        chip.addWidget(self.file_chip)
        chip.addWidget(self.clear_file)
        chip.addStretch(1)

        self.input = QuestionBox()
        self.input.setPlaceholderText("Ask Familiar…  (Enter to send, Shift+Enter for a new line)")
        self.input.setFixedHeight(72)
        self.input.submitted.connect(self.send_or_stop)
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send_or_stop)
        self.status = muted_label()
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.send_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.scroller, 1)
        layout.addLayout(chip)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.set_only_path(None)

    # --- state ------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def set_only_path(self, path: str | None) -> None:
        self.only_path = path
        self.file_chip.setText(f"Asking about: {Path(path).name}" if path else "")
        self.file_chip.setVisible(bool(path))
        self.clear_file.setVisible(bool(path))

    def new_conversation(self) -> None:
        if self.busy:
            return
        self.conversation_id = None
        self.editing = False
        self._clear()
        self.conversation_changed.emit(None)
        self.input.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        if self.busy:
            return
        self.tasks.run("io", "chat-load", jobs.load_messages, self.runtime, conversation_id,
                       on_done=self._loaded)

    def _loaded(self, result: tuple[int, list[Any]]) -> None:
        conversation_id, messages = result
        self.conversation_id = conversation_id
        self.editing = False
        self._clear()
        for message in messages:
            self._add(message.role, message.text, message)
        self._update_last()
        self.conversation_changed.emit(conversation_id)

    def _clear(self) -> None:
        for widget in self.widgets:
            widget.deleteLater()
        self.widgets = []
        self.welcome.setVisible(True)

    def _add(self, role: str, text: str = "", message: Any = None) -> MessageWidget:
        widget = MessageWidget(role, text, message)
        widget.selected.connect(self.answer_selected)
        widget.feedback_given.connect(self._feedback)
        widget.regenerate_requested.connect(self.regenerate)
        widget.edit_requested.connect(lambda _w: self.edit_last())
        self._transcript.insertWidget(self._transcript.count() - 1, widget)
        self.widgets.append(widget)
        self.welcome.setVisible(False)
        return widget

    def _update_last(self) -> None:
        idle = not self.busy
        last_user = max((i for i, w in enumerate(self.widgets) if w.role == "user"), default=-1)
        last_answer = max((i for i, w in enumerate(self.widgets) if w.role == "assistant"),
                          default=-1)
        for i, widget in enumerate(self.widgets):
            widget.set_last(idle and i in (last_user, last_answer))

    def _follow(self, _low: int, high: int) -> None:
        if self.busy:
            self.scroller.verticalScrollBar().setValue(high)

    # --- asking -----------------------------------------------------------------------------

    def send_or_stop(self) -> None:
        if self.busy:
            self.stop()
        else:
            self.ask(self.input.toPlainText())

    def ask(self, question: str) -> None:
        question = question.strip()
        if not question or self.busy:
            return
        self.input.clear()
        if self.editing and self.conversation_id is not None:
            self.editing = False
            for widget in self._tail_from_last_user():
                self.widgets.remove(widget)
                widget.deleteLater()
            self._add("user", question)
            self._start(jobs.edit_last_question, self.conversation_id, question)
            return
        self._add("user", question)
        self._start(jobs.ask, question, self.conversation_id, self.only_path)

    def regenerate(self) -> None:
        if self.busy or self.conversation_id is None:
            return
        while self.widgets and self.widgets[-1].role == "assistant":
            self.widgets.pop().deleteLater()
        self._start(jobs.regenerate, self.conversation_id)

    def edit_last(self) -> None:
        """Put the last question back into the box; sending it answers it again."""
        if self.busy or self.conversation_id is None:
            return
        users = [w for w in self.widgets if w.role == "user"]
        if not users:
            return
        self.editing = True
        self.input.setPlainText(users[-1].text)
        self.input.setFocus()
        self.status.setText("Editing your last question: send to answer it again.")

    def _tail_from_last_user(self) -> list[MessageWidget]:
        for i in range(len(self.widgets) - 1, -1, -1):
            if self.widgets[i].role == "user":
                return self.widgets[i:]
        return []

    def _start(self, fn: Any, *args: Any) -> None:
        self._streaming = self._add("assistant")
        self._streaming.begin_stream()
        self._saw_done = False
        self.status.setText("")
        self.job = self.tasks.stream("llm", "answer", fn, self.runtime, *args,
                                     on_batch=self._events, on_done=self._ended,
                                     on_error=self._failed)
        self.job.cancelled.connect(self._cancelled)
        self.send_button.setText("Stop")
        self._update_last()
        self.busy_changed.emit(True)

    def stop(self) -> None:
        if self.job is not None and self.job.running:
            self.status.setText("Stopping…")
            self.job.cancel()

    def _events(self, events: list[Any]) -> None:
        widget = self._streaming
        if widget is None:
            return
        pieces: list[str] = []
        for event in events:
            if event.conversation_id is not None and self.conversation_id != event.conversation_id:
                self.conversation_id = event.conversation_id
                self.conversation_changed.emit(self.conversation_id)
            if event.kind == "sources":
                widget.note.setText("writing…")
                self.sources_arrived.emit(list(event.sources))
            elif event.kind == "token":
                pieces.append(event.text)
            elif event.kind == "done" and event.message is not None:
                if pieces:
                    widget.append("".join(pieces))
                    pieces = []
                self._saw_done = True
                widget.finish(event.message)
                self.answer_finished.emit(event.message)
        if pieces:
            widget.append("".join(pieces))

    def _ended(self, _result: object) -> None:
        self._settle("")

    def _cancelled(self) -> None:
        self._settle("Stopped.")

    def _failed(self, exc: BaseException) -> None:
        if self._streaming is not None:
            self._streaming.fail("failed")
        reason = str(exc) if hasattr(exc, "exit_code") else type(exc).__name__
        self._settle(f"The answer failed: {reason}")

    def _settle(self, note: str) -> None:
        self.send_button.setText("Send")
        if note:
            self.status.setText(note)
        elif self.status.text() == "Stopping…":
            self.status.setText("Stopped.")
        finished_cleanly = self._saw_done
        if self._streaming is not None and self._streaming.streaming:
            self._streaming.fail("stopped")
        self._streaming = None
        self.job = None
        self.busy_changed.emit(False)
        if not finished_cleanly and self.conversation_id is not None:
            # Stopped before an answer was stored: show what the store holds.
            QTimer.singleShot(0, lambda: self.open_conversation(self.conversation_id or 0))
        self._update_last()

    def _feedback(self, widget: MessageWidget, value: int) -> None:
        if widget.message is None:
            return
        widget.set_feedback(value)
        self.tasks.run("io", f"feedback-{widget.message.id}", jobs.set_feedback, self.runtime,
                       widget.message.id, value)

    # --- drag a file onto the chat ----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if _dropped_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        path = _dropped_file(event)
        if path is not None:
            self.set_only_path(path)
            event.acceptProposedAction()
            self.input.setFocus()


def _dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).is_file():
            return url.toLocalFile()
    return None
