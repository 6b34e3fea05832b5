"""Lock after the person has been away: any keyboard or mouse input in the app restarts a
single-shot timer of ``privacy.lock_after_idle_min`` minutes (0: never). The same input is
reported as ``user_active`` (at most once a second) so idle-time work steps aside. Main thread
only."""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

_INPUT = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
          QEvent.Type.Wheel}


ACTIVE_EVERY_MS = 1000


class IdleLock(QObject):
    idle_timeout = Signal()
    user_active = Signal()

    def __init__(self, qapp: QApplication, parent: QObject | None = None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle_timeout)
        self._since_active = QElapsedTimer()
        qapp.installEventFilter(self)

    def set_minutes(self, minutes: float) -> None:
        if minutes > 0:
            self._timer.setInterval(int(minutes * 60_000))
            self._timer.start()
        else:
            self._timer.stop()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() in _INPUT:
            if self._timer.isActive():
                self._timer.start()
            if not self._since_active.isValid() or self._since_active.elapsed() >= ACTIVE_EVERY_MS:
                self._since_active.start()
                self.user_active.emit()
        return False
