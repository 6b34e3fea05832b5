"""Lock after the person has been away: any keyboard or mouse input in the app restarts a
single-shot timer of ``privacy.lock_after_idle_min`` minutes (0: never). The same input is
reported as ``user_active`` (at most once a second) so idle-time work steps aside. Main thread
only.

Input is watched on the app's windows (``QWindow``: every key and mouse event reaches its
window before the widget under it), not with an application-wide event filter. An
application filter written in Python runs Python, and so takes the GIL, for every event of
every object: timers, paints, posted signals. While the index and llm lanes run Python, each
of those waits its turn for the GIL, and the window stalls for hundreds of milliseconds.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QWindow

_INPUT = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
          QEvent.Type.Wheel}


ACTIVE_EVERY_MS = 1000


class IdleLock(QObject):
    idle_timeout = Signal()
    user_active = Signal()

    def __init__(self, qapp: QGuiApplication, parent: QObject | None = None):
        super().__init__(parent)
        self._qapp = qapp
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle_timeout)
        self._since_active = QElapsedTimer()
        # A window that gets the focus is new or came back: watch every window then. Installing
        # a filter twice on one window keeps one (Qt moves it to the front).
        qapp.focusWindowChanged.connect(self.watch_windows)
        self.watch_windows()

    def watch_windows(self, *_focused: QWindow | None) -> None:
        """Watch the input of every top-level window the app has now. The app also calls this
        after showing a window, which can appear without taking the focus (a tray start, a
        desktop that prevents focus stealing)."""
        for window in self._qapp.topLevelWindows():
            window.installEventFilter(self)

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
