"""One message of the transcript: who, the Markdown body, and for answers the feedback row.

Main thread only; the widget holds the stored ``Message`` once the answer is done (ids are
needed for feedback), and only text while it streams.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from app.ui.chat.markdown_view import MarkdownView
from app.ui.theme import muted_label

STATUS_NOTES = {
    "stopped": "stopped",
    "error": "failed",
    "extractive": "quoted from your files (no model)",
}


class MessageWidget(QFrame):
    """Signals carry the widget itself so the view knows which answer was meant."""

    selected = Signal(object)
    feedback_given = Signal(object, int)
    regenerate_requested = Signal()
    edit_requested = Signal(object)

    def __init__(self, role: str, text: str = "", message: Any = None, parent: Any = None):
        super().__init__(parent)
        self.role = role
        self.message = message
        self.streaming = False
        self._last = False
        self.setObjectName("answer" if role == "assistant" else "question")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.who = QLabel("You" if role == "user" else "Familiar")
        self.who.setStyleSheet("font-weight: 600;")
        self.note = muted_label()
        self.body = MarkdownView(text)
        self.body.clicked.connect(self._clicked)
        head = QHBoxLayout()
        head.addWidget(self.who)
        head.addWidget(self.note)
        head.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(head)
        layout.addWidget(self.body)

        self.thumbs_up = QPushButton("Helpful")
        self.thumbs_down = QPushButton("Not helpful")
        self.sources_button = QPushButton("Sources")
        self.regenerate_button = QPushButton("Regenerate")
        self.edit_button = QPushButton("Edit")
        row = QHBoxLayout()
        for button in (self.thumbs_up, self.thumbs_down):
            button.setCheckable(True)
            row.addWidget(button)
        row.addWidget(self.sources_button)
        row.addStretch(1)
        row.addWidget(self.regenerate_button)
        row.addWidget(self.edit_button)
        layout.addLayout(row)
        self.thumbs_up.clicked.connect(lambda on: self.feedback_given.emit(self, 1 if on else 0))
        self.thumbs_down.clicked.connect(lambda on: self.feedback_given.emit(self, -1 if on else 0))
        self.sources_button.clicked.connect(lambda: self.selected.emit(self))
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.edit_button.clicked.connect(lambda: self.edit_requested.emit(self))
        self.set_last(False)
        if message is not None:
            self.finish(message)
        else:
            self._show_controls()

    # --- content ----------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self.body.text

    def append(self, piece: str) -> None:
        self.body.set_text(self.body.text + piece)

    def begin_stream(self) -> None:
        self.streaming = True
        self.note.setText("thinking…")
        self._show_controls()

    def finish(self, message: Any) -> None:
        """The stored message: final text, status, citations, feedback."""
        self.message = message
        self.streaming = False
        if message.text != self.body.text:
            self.body.set_text(message.text)
        self.note.setText(STATUS_NOTES.get(message.status, ""))
        self.thumbs_up.setChecked(message.feedback == 1)
        self.thumbs_down.setChecked(message.feedback == -1)
        cited = len(message.citations)
        self.sources_button.setText(f"Sources ({cited})" if cited else "No sources")
        self.sources_button.setEnabled(bool(cited))
        self._show_controls()

    def fail(self, reason: str) -> None:
        self.streaming = False
        self.note.setText(reason)
        self._show_controls()

    def set_feedback(self, value: int) -> None:
        self.thumbs_up.setChecked(value == 1)
        self.thumbs_down.setChecked(value == -1)

    def set_last(self, last: bool) -> None:
        self._last = last
        self._show_controls()

    def _show_controls(self) -> None:
        answer = self.role == "assistant"
        done = answer and not self.streaming and self.message is not None
        for button in (self.thumbs_up, self.thumbs_down, self.sources_button):
            button.setVisible(done)
        self.regenerate_button.setVisible(done and self._last)
        self.edit_button.setVisible(self.role == "user" and self._last)

    def _clicked(self) -> None:
        if self.role == "assistant":
            self.selected.emit(self)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton and self.role == "assistant":
            self.selected.emit(self)
        super().mouseReleaseEvent(event)
