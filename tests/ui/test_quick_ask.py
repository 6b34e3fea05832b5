"""The quick-ask popup: focused input, Enter asks, the answer streams inline with sources
(click opens), "Open in main window" hands the conversation over, Esc hides."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.runtime import Runtime
from app.ui.quick_ask import QuickAsk
from app.ui.tasks import UiTasks
from tests.fixtures.fake_engine import FakeEngine
from tests.ui.conftest import RecordingOpener, with_engine


def test_quick_ask_streams_opens_sources_and_hides(qtbot: Any, indexed_runtime: Runtime,
                                                   tasks: UiTasks, opener: RecordingOpener,
                                                   fake_engine: FakeEngine) -> None:
    fake_engine.enqueue("Check-in at the ryokan is at 3pm [1].", "Ryokan check-in")
    with_engine(indexed_runtime, fake_engine)
    popup = QuickAsk(indexed_runtime, tasks, opener)
    qtbot.addWidget(popup)
    popup.popup()
    assert popup.isVisible() and popup.focusWidget() in (popup.input, None)
    assert not popup.answer_area.isVisible()
    qtbot.keyClicks(popup.input, "When is check-in at the ryokan?")
    batches: list[Any] = []
    qtbot.keyClick(popup.input, Qt.Key.Key_Return)
    assert popup.job is not None
    popup.job.batch_ready.connect(batches.append)
    qtbot.waitUntil(lambda: popup.job is None, timeout=20000)
    assert popup.answer.text == "Check-in at the ryokan is at 3pm [1]."
    assert popup.answer_area.isVisible() and batches
    assert "travel.md" in popup.sources.text()
    first = popup._citations[0]
    popup.sources.linkActivated.emit(str(first.n))
    assert opener.opened[-1].toLocalFile() == first.path
    assert popup.main_button.isVisible()
    with qtbot.waitSignal(popup.open_in_main, timeout=2000) as handed:
        popup.main_button.click()
    assert handed.args == [popup.conversation_id] and not popup.isVisible()
    popup.popup()
    qtbot.keyClick(popup.input, Qt.Key.Key_Escape)
    assert not popup.isVisible()
    stored = indexed_runtime.conversations.messages(popup.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]


def test_quick_ask_is_centred_on_the_screen(qtbot: Any, runtime: Runtime, tasks: UiTasks,
                                            opener: RecordingOpener) -> None:
    popup = QuickAsk(runtime, tasks, opener)
    qtbot.addWidget(popup)
    popup.popup()
    area = popup.screen().availableGeometry()
    assert abs(popup.geometry().center().x() - area.center().x()) <= 1
    assert popup.windowFlags() & Qt.WindowType.FramelessWindowHint
    popup.hide()
