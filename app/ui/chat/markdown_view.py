"""An answer rendered from Markdown, sized to its content, with a "Copy code" link under
every complete fenced code block. Main thread only.

The view overrides no Qt method that layouts and painting call (``sizeHint``,
``resizeEvent``, an event filter): a Python override takes the GIL on every call, and a
transcript of many answers is laid out again on every streamed token. While the index lane
runs Python, each of those calls waits its turn for the GIL. The height follows the document
instead: a width change re-lays the document out, and ``documentSizeChanged`` fits it.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QMouseEvent, QTextOption
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)


def code_blocks(text: str) -> list[str]:
    """The contents of the complete fenced code blocks of ``text``, in order."""
    return [m.group(2) for m in _FENCE.finditer(text)]


def with_copy_links(text: str) -> str:
    """``text`` with a ``[Copy code](copy:N)`` link after each complete fenced block."""
    out: list[str] = []
    last = 0
    for n, match in enumerate(_FENCE.finditer(text)):
        out.append(text[last:match.end()])
        out.append(f"\n\n[Copy code](copy:{n})\n")
        last = match.end()
    out.append(text[last:])
    return "".join(out)


class MarkdownView(QTextBrowser):
    """Read-only Markdown; links to files and the web go to ``link_clicked``."""

    link_clicked = Signal(QUrl)
    code_copied = Signal(int)
    clicked = Signal()

    def __init__(self, text: str = "", parent: QFrame | None = None):
        super().__init__(parent)
        self._text = ""
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self.anchorClicked.connect(self._anchor)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.set_text(text)

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self.setMarkdown(with_copy_links(text))
        self._fit()

    def _anchor(self, url: QUrl) -> None:
        if url.scheme() == "copy":
            blocks = code_blocks(self._text)
            index = int(url.path() or 0)
            if 0 <= index < len(blocks):
                QGuiApplication.clipboard().setText(blocks[index])
                self.code_copied.emit(index)
            return
        self.link_clicked.emit(url)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            event.accept()  # handled here: the parent does not get it a second time
            self.clicked.emit()

    def _fit(self, *_args: object) -> None:
        self.document().setTextWidth(self.viewport().width())
        height = int(self.document().size().height()) + 6
        if self.height() != height:
            self.setFixedHeight(height)
