"""The unlock dialog of later runs: the keychain first, else passphrase (or recovery key).

Argon2 takes about half a second, so every unlock attempt runs on the ``io`` lane through
``UiTasks``; the dialog only shows what happened. A wrong secret says so and lets the person
try again. Main thread only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from app.core.errors import FamiliarError, WrongSecret
from app.core.profile.keychain import Keychain
from app.core.profile.vault import UnlockedProfile, Vault
from app.core.tasks import TaskState
from app.ui.tasks import UiTasks


def _unlock_keychain(_state: TaskState, vault: Vault) -> UnlockedProfile | None:
    try:
        return vault.unlock_keychain(Keychain())
    except FamiliarError:
        return None


def _unlock_secret(_state: TaskState, vault: Vault, secret: str, recovery: bool) -> UnlockedProfile:
    if recovery:
        return vault.unlock_recovery(secret)
    return vault.unlock_passphrase(secret)


class UnlockDialog(QDialog):
    """Emits ``unlocked(UnlockedProfile)`` and accepts once the profile is open."""

    unlocked = Signal(object)

    def __init__(self, vault: Vault, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.vault = vault
        self.tasks = tasks
        self.profile: UnlockedProfile | None = None
        self.setWindowTitle("Unlock Familiar")
        self.setMinimumWidth(420)

        self.status = QLabel("Your profile is encrypted. Enter your passphrase to open it.")
        self.status.setWordWrap(True)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("Passphrase")
        self.secret.returnPressed.connect(self.try_unlock)
        self.use_recovery = QCheckBox("Use the recovery key instead")
        self.use_recovery.toggled.connect(self._mode_changed)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #d93025;")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.unlock_button = self.buttons.addButton("Unlock", QDialogButtonBox.ButtonRole.AcceptRole)
        self.unlock_button.setDefault(True)
        self.buttons.accepted.connect(self.try_unlock)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        for widget in (self.status, self.secret, self.use_recovery, self.error, self.buttons):
            layout.addWidget(widget)
        if "passphrase" not in vault.slot_kinds():
            self.use_recovery.setChecked(True)
            self.use_recovery.setEnabled(False)

    def start(self) -> None:
        """Try the keychain (on a lane) before asking; the form stays usable meanwhile."""
        if "keychain" in self.vault.slot_kinds():
            self.status.setText("Opening with the system keychain…")
            self.tasks.run("io", "unlock-keychain", _unlock_keychain, self.vault,
                           on_done=self._keychain_done, on_error=lambda _e: self._keychain_done(None))

    def _keychain_done(self, profile: UnlockedProfile | None) -> None:
        if profile is not None:
            self._opened(profile)
            return
        self.status.setText("The keychain could not open your profile. "
                            "Enter your passphrase or recovery key.")

    def _mode_changed(self, recovery: bool) -> None:
        self.secret.clear()
        self.error.clear()
        self.secret.setPlaceholderText("Recovery key" if recovery else "Passphrase")
        self.secret.setEchoMode(QLineEdit.EchoMode.Normal if recovery else QLineEdit.EchoMode.Password)

    def try_unlock(self) -> None:
        secret = self.secret.text()
        if not secret or not self.unlock_button.isEnabled():
            return
        self._busy(True)
        self.error.setText("Unlocking…")
        self.tasks.run("io", "unlock", _unlock_secret, self.vault, secret,
                       self.use_recovery.isChecked(), on_done=self._opened, on_error=self._failed)

    def _busy(self, busy: bool) -> None:
        for widget in (self.secret, self.unlock_button, self.use_recovery):
            widget.setEnabled(not busy)
        if not busy and "passphrase" not in self.vault.slot_kinds():
            self.use_recovery.setEnabled(False)

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        if isinstance(exc, WrongSecret):
            which = "recovery key" if self.use_recovery.isChecked() else "passphrase"
            self.error.setText(f"Wrong {which}. Please try again.")
        elif isinstance(exc, FamiliarError):
            self.error.setText(str(exc))
        else:
            self.error.setText(f"Could not unlock ({type(exc).__name__}).")
        self.secret.selectAll()
        self.secret.setFocus()

    def _opened(self, profile: UnlockedProfile) -> None:
        self.profile = profile
        self.secret.clear()
        self.unlocked.emit(profile)
        self.accept()
