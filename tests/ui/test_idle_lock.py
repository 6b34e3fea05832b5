"""Input on the app's windows restarts the lock timer and reports activity; events that are
not input, and events of objects that are no window, never reach the filter (no
application-wide Python filter taking the GIL for every event)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from app.ui.idle_lock import IdleLock


class CountingLock(IdleLock):
    def __init__(self, qapp: QApplication):
        self.watched: list[QObject] = []
        super().__init__(qapp)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        self.watched.append(watched)
        return super().eventFilter(watched, event)


def _window(qtbot: Any) -> QLineEdit:
    window = QLineEdit()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_key_on_a_window_reports_activity_and_keeps_the_timer(qtbot: Any, qapp: Any) -> None:
    window = _window(qtbot)
    lock = IdleLock(qapp)
    lock.set_minutes(5)
    lock._since_active.invalidate()
    with qtbot.waitSignal(lock.user_active, timeout=2000):
        qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Shift)
    assert lock.active
    assert lock._timer.interval() == 5 * 60_000
    lock.set_minutes(0)
    assert not lock.active


def test_activity_is_reported_at_most_once_a_second(qtbot: Any, qapp: Any) -> None:
    window = _window(qtbot)
    lock = IdleLock(qapp)
    seen: list[bool] = []
    lock.user_active.connect(lambda: seen.append(True))
    lock._since_active.invalidate()
    for _ in range(5):
        qtbot.keyClick(window.windowHandle(), Qt.Key.Key_A)
    assert len(seen) == 1


def test_only_windows_are_filtered(qtbot: Any, qapp: Any) -> None:
    window = _window(qtbot)
    lock = CountingLock(qapp)
    bystander = QObject()
    for _ in range(20):
        QCoreApplication.sendEvent(bystander, QEvent(QEvent.Type.User))
        QCoreApplication.sendEvent(window, QEvent(QEvent.Type.User))
    assert lock.watched == []
    qtbot.keyClick(window.windowHandle(), Qt.Key.Key_Shift)
    assert window.windowHandle() in lock.watched
    assert bystander not in lock.watched and window not in lock.watched


def test_a_window_opened_later_is_watched_once_it_has_focus(qtbot: Any, qapp: Any) -> None:
    lock = IdleLock(qapp)
    later = _window(qtbot)
    later.activateWindow()
    qtbot.waitUntil(lambda: qapp.focusWindow() is later.windowHandle())
    lock._since_active.invalidate()
    with qtbot.waitSignal(lock.user_active, timeout=2000):
        qtbot.keyClick(later.windowHandle(), Qt.Key.Key_Shift)
