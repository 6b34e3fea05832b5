"""Lock after the person has been away: any keyboard or mouse input in the app restarts a
single-shot timer of ``privacy.lock_after_idle_min`` minutes (0: never). Main thread only."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

_INPUT = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
          QEvent.Type.Wheel}


class IdleLock(QObject):
    idle_timeout = Signal()

    def __init__(self, qapp: QApplication, parent: QObject | None = None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle_timeout)
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
        if event.type() in _INPUT and self._timer.isActive():
            self._timer.start()
        return False
