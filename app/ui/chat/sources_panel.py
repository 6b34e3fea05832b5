"""The sources of the selected answer: open (at page where possible), show in folder, and
"not relevant" (stored for the personalization worker). Main thread only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.ui.opener import Opener


class SourceCard(QFrame):
    opened = Signal(object)
    revealed = Signal(object)
    not_relevant = Signal(object)

    def __init__(self, citation: Any, parent: Any = None):
        super().__init__(parent)
        self.citation = citation
        self.setFrameShape(QFrame.Shape.StyledPanel)
        name = Path(citation.path).name if citation.path else "Memory"
        where = f" · {citation.location}" if citation.location and citation.kind == "file" else ""
        self.title = QLabel(f"<b>[{citation.n}] {_escape(name)}</b>{_escape(where)}")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.snippet = QLabel(_highlight(citation.snippet))
        self.snippet.setWordWrap(True)
        self.snippet.setTextFormat(Qt.TextFormat.RichText)
        self.snippet.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.snippet)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.folder_button = QPushButton("Show in folder")
        for button in (self.open_button, self.folder_button):
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.irrelevant_button = QPushButton("Not relevant")
        self.irrelevant_button.setToolTip("This passage did not help: Familiar learns from it")
        self.irrelevant_button.setCheckable(True)
        for button in (self.open_button, self.folder_button):
            button.setVisible(citation.kind == "file" and bool(citation.path))
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.irrelevant_button)
        layout.addLayout(row)
        self.open_button.clicked.connect(lambda: self.opened.emit(self.citation))
        self.folder_button.clicked.connect(lambda: self.revealed.emit(self.citation))
        self.irrelevant_button.clicked.connect(self._irrelevant)
        if not getattr(citation, "cited", True):
            self.setToolTip("Given to the model but not cited in the answer")

    def _irrelevant(self) -> None:
        self.irrelevant_button.setEnabled(False)
        self.irrelevant_button.setText("Marked not relevant")
        self.not_relevant.emit(self.citation)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        if self.citation.kind == "file" and self.citation.path:
            self.opened.emit(self.citation)
        super().mouseDoubleClickEvent(event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _highlight(snippet: str) -> str:
    """Search snippets mark matched words with ``**``: show them bold, escape the rest."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", _escape(snippet))


class SourcesPanel(QWidget):
    """Shows citations; ``source_opened`` / ``source_rejected`` carry (message_id, citation)."""

    source_opened = Signal(object, object)
    source_rejected = Signal(object, object)

    def __init__(self, opener: Opener | None = None, parent: Any = None):
        super().__init__(parent)
        self.opener = opener or Opener()
        self.message_id: int | None = None
        self.cards: list[SourceCard] = []
        self.heading = QLabel("Sources")
        self.heading.setStyleSheet("font-weight: 600;")
        self.empty = QLabel("Select an answer to see the passages it used.")
        self.empty.setWordWrap(True)
        self._inner = QWidget()
        self._list = QVBoxLayout(self._inner)
        self._list.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._inner)
        self.setMinimumWidth(280)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.heading)
        layout.addWidget(self.empty)
        layout.addWidget(scroll, 1)

    def show_sources(self, citations: list[Any], message_id: int | None) -> None:
        self.message_id = message_id
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for citation in citations:
            card = SourceCard(citation)
            card.opened.connect(self._open)
            card.revealed.connect(self._reveal)
            card.not_relevant.connect(self._reject)
            card.irrelevant_button.setEnabled(message_id is not None)
            self._list.insertWidget(self._list.count() - 1, card)
            self.cards.append(card)
        self.heading.setText(f"Sources ({len(citations)})" if citations else "Sources")
        self.empty.setVisible(not citations)
        if not citations:
            self.empty.setText("No passages from your files for this answer."
                               if message_id is not None else
                               "Select an answer to see the passages it used.")

    def clear(self) -> None:
        self.show_sources([], None)

    def _open(self, citation: Any) -> None:
        self.opener.open_file(citation.path, citation.location)
        self.source_opened.emit(self.message_id, citation)

    def _reveal(self, citation: Any) -> None:
        self.opener.show_in_folder(citation.path)

    def _reject(self, citation: Any) -> None:
        self.source_rejected.emit(self.message_id, citation)
