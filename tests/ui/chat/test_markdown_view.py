"""The answer view fits its height to its document without a Python ``resizeEvent`` or
``sizeHint``, and a click on an answer's body selects that answer."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.chat.markdown_view import MarkdownView
from app.ui.chat.message_widget import MessageWidget

LONG = " ".join(f"word{i}" for i in range(300))


def _hosted(qtbot: Any, child: QWidget, width: int) -> QWidget:
    host = QWidget()
    QVBoxLayout(host).addWidget(child)
    qtbot.addWidget(host)
    host.resize(width, 900)
    host.show()
    qtbot.waitExposed(host)
    return host


def test_height_follows_the_document_when_the_width_changes(qtbot: Any) -> None:
    view = MarkdownView(LONG)
    host = _hosted(qtbot, view, 900)
    qtbot.waitUntil(lambda: view.height() >= view.document().size().height())
    wide = view.height()
    host.resize(300, 900)
    qtbot.waitUntil(lambda: view.height() > wide)
    assert view.height() >= view.document().size().height()
    assert view.document().textWidth() == view.viewport().width()
    host.resize(900, 900)
    qtbot.waitUntil(lambda: view.height() == wide)


def test_set_text_refits(qtbot: Any) -> None:
    view = MarkdownView("one line")
    host = _hosted(qtbot, view, 600)  # noqa: F841 (kept alive for the test)
    short = view.height()
    view.set_text(LONG)
    assert view.height() > short
    assert "sizeHint" not in MarkdownView.__dict__
    assert "resizeEvent" not in MarkdownView.__dict__


def test_clicking_an_answer_selects_it_and_a_question_does_not(qtbot: Any) -> None:
    answer = MessageWidget("assistant", "An answer with **bold** text.")
    question = MessageWidget("user", "A question?")
    host = QWidget()
    layout = QVBoxLayout(host)
    layout.addWidget(answer)
    layout.addWidget(question)
    qtbot.addWidget(host)
    host.resize(600, 400)
    host.show()
    qtbot.waitExposed(host)
    selected: list[Any] = []
    answer.selected.connect(selected.append)
    question.selected.connect(selected.append)
    with qtbot.waitSignal(answer.body.clicked):
        qtbot.mouseClick(answer.body.viewport(), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(question.body.viewport(), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(answer.body.viewport(), Qt.MouseButton.RightButton)
    assert selected == [answer]  # once: the body's click does not reach the frame as well
