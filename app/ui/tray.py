"""The tray icon: a state a person can read (idle / indexing n% / locked) and the menu
Quick ask, Open Familiar, Pause indexing, Lock, Quit. It only emits what was asked; the app
decides. Main thread only."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.ui.icons import state_icon


def describe(state: str, fraction: float | None = None, waiting: str = "") -> str:
    if state == "locked":
        return "Familiar — locked"
    if state == "indexing":
        if waiting:
            return f"Familiar — indexing paused ({waiting})"
        if fraction is not None:
            return f"Familiar — indexing {int(fraction * 100)}%"
        return "Familiar — indexing"
    return "Familiar — idle"


def tray_state(status: Any) -> tuple[str, float | None, str]:
    """``Tray.set_state`` arguments for an ``IndexStatus``. Only a paused or waiting run
    reads as paused: a rebuild of the vector index also carries a note in ``waiting_for``."""
    if status.phase not in ("indexing", "reconciling", "paused", "waiting"):
        return "idle", None, ""
    fraction = status.files_done / status.files_total if status.files_total else None
    waiting = status.waiting_for if status.phase in ("paused", "waiting") else ""
    return "indexing", fraction, waiting


class Tray(QObject):
    quick_ask_requested = Signal()
    open_requested = Signal()
    pause_toggled = Signal(bool)  # True: pause
    lock_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.state = "locked"
        self.fraction: float | None = None
        self.icon = QSystemTrayIcon()
        self.menu = QMenu()
        self.quick_ask_action = self._action("Quick ask", self.quick_ask_requested.emit)
        self.open_action = self._action("Open Familiar", self.open_requested.emit)
        self.menu.addSeparator()
        self.pause_action: QAction = self._action("Pause indexing", self._pause_clicked)
        self.pause_action.setCheckable(True)
        self.lock_action = self._action("Lock", self.lock_requested.emit)
        self.menu.addSeparator()
        self.quit_action = self._action("Quit", self.quit_requested.emit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.set_state("locked")

    def _action(self, text: str, slot: Any) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    def _pause_clicked(self) -> None:
        self.pause_toggled.emit(self.pause_action.isChecked())

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_state(self, state: str, fraction: float | None = None, waiting: str = "") -> None:
        """``idle`` | ``indexing`` (with ``fraction`` 0..1) | ``locked``."""
        self.state = state
        self.fraction = fraction
        self.icon.setIcon(state_icon(state, fraction))
        self.icon.setToolTip(describe(state, fraction, waiting))
        unlocked = state != "locked"
        for action in (self.pause_action, self.lock_action):
            action.setEnabled(unlocked)

    @property
    def tooltip(self) -> str:
        return self.icon.toolTip()

    def set_paused(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)

    def notify(self, title: str, message: str) -> None:
        self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 6000)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()
