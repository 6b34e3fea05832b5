"""First run: create the encrypted profile, show the recovery key once, pick folders and a model.

Profile creation (Argon2) and model checks run on the ``io`` lane; the wizard waits for them
without blocking the event loop (``validatePage`` starts the job and refuses to advance until
it reports back). Main thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from app.core.engine.gguf_check import GgufInfo, require_model
from app.core.errors import FamiliarError, KeychainUnavailable
from app.core.indexing.rules import DEFAULT_EXCLUDES
from app.core.profile.keychain import Keychain
from app.core.profile.vault import UnlockedProfile, Vault
from app.core.tasks import TaskState
from app.ui.catalog_panel import CatalogPanel
from app.ui.tasks import UiTasks


def _keychain_refusal(_state: TaskState) -> str | None:
    try:
        Keychain().check()
    except KeychainUnavailable as exc:
        return str(exc)
    except Exception as exc:  # keyring itself failing to start is a refusal too
        return f"no usable keychain ({type(exc).__name__})"
    return None


def _create(_state: TaskState, home: Path, passphrase: str | None,
            use_keychain: bool) -> tuple[UnlockedProfile, str]:
    profile, code = Vault.create(home, passphrase=passphrase,
                                 keychain=Keychain() if use_keychain else None)
    profile.store  # noqa: B018  (create store.db and run migrations here, not on the GUI)
    return profile, code


def _check_model(_state: TaskState, path: Path) -> GgufInfo:
    return require_model(path)


class ProtectPage(QWizardPage):
    """Keychain when a real one exists, else (or also) a passphrase."""

    def __init__(self, wizard: OnboardingWizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Protect your profile")
        self.setSubTitle("Everything Familiar learns stays on this computer, encrypted.")
        self.use_keychain = QRadioButton("Keep the key in the system keychain")
        self.use_passphrase = QRadioButton("Protect it with a passphrase")
        self.use_passphrase.setChecked(True)
        self.use_keychain.setEnabled(False)
        self.keychain_note = QLabel("Checking the system keychain…")
        self.keychain_note.setWordWrap(True)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setPlaceholderText("Repeat the passphrase")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #d93025;")
        self.error.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.use_keychain, self.keychain_note, self.use_passphrase,
                       self.passphrase, self.repeat, self.error):
            layout.addWidget(widget)
        self.use_passphrase.toggled.connect(self._mode)
        for field in (self.passphrase, self.repeat):
            field.textChanged.connect(self.completeChanged)
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Create profile")

    def initializePage(self) -> None:
        self.wiz.tasks.run("io", "keychain-check", _keychain_refusal, on_done=self._keychain)

    def _keychain(self, refusal: str | None) -> None:
        if refusal is None:
            self.use_keychain.setEnabled(True)
            self.keychain_note.setText("Your system keychain can keep the key: no passphrase "
                                       "to type at every start.")
        else:
            self.keychain_note.setText(f"The system keychain cannot be used: {refusal}.")

    def _mode(self, passphrase: bool) -> None:
        self.passphrase.setEnabled(passphrase)
        self.repeat.setEnabled(passphrase)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        if self.wiz.creating:
            return False
        if self.use_keychain.isChecked():
            return True
        return bool(self.passphrase.text()) and self.passphrase.text() == self.repeat.text()

    def validatePage(self) -> bool:
        if self.wiz.profile is not None:
            return True
        if self.wiz.creating:
            return False
        keychain = self.use_keychain.isChecked()
        passphrase = None if keychain else self.passphrase.text()
        self.wiz.creating = True
        self.error.setText("Creating your encrypted profile…")
        self.completeChanged.emit()
        self.wiz.tasks.run("io", "create-profile", _create, self.wiz.home, passphrase, keychain,
                           on_done=self._created, on_error=self._failed)
        return False

    def _created(self, result: tuple[UnlockedProfile, str]) -> None:
        self.wiz.profile, self.wiz.recovery_code = result
        self.wiz.creating = False
        self.passphrase.clear()
        self.repeat.clear()
        self.wiz.next()

    def _failed(self, exc: BaseException) -> None:
        self.wiz.creating = False
        self.error.setText(str(exc) if isinstance(exc, FamiliarError)
                           else f"Could not create the profile ({type(exc).__name__}).")
        self.completeChanged.emit()


class RecoveryPage(QWizardPage):
    """The recovery key, shown once; the person confirms they saved it."""

    def __init__(self, wizard: OnboardingWizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Your recovery key")
        self.setSubTitle("If you forget your passphrase or lose the keychain, this key is the "
                         "only way back in. It is shown once: write it down or store it safely.")
        self.code = QLabel("")
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(font.pointSize() + 3)
        self.code.setFont(font)
        self.code.setWordWrap(True)
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.code.text()))
        self.saved = QCheckBox("I have saved my recovery key")
        self.saved.toggled.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.code, 1)
        row.addWidget(copy)
        layout.addLayout(row)
        layout.addWidget(self.saved)

    def initializePage(self) -> None:
        self.code.setText(self.wiz.recovery_code)

    def isComplete(self) -> bool:
        return self.saved.isChecked()

    def validatePage(self) -> bool:
        self.wiz.recovery_code = ""  # shown once: not kept in memory longer than needed
        return True


class FoldersPage(QWizardPage):
    def __init__(self, wizard: OnboardingWizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("Folders to learn from")
        self.setSubTitle("Familiar reads these folders to answer from your files. "
                         "You can change them later in the Library.")
        self.folders = QListWidget()
        add = QPushButton("Add folder…")
        add.clicked.connect(self._pick)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        excludes = QPlainTextEdit("\n".join(DEFAULT_EXCLUDES))
        excludes.setReadOnly(True)
        excludes.setMaximumHeight(120)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folders)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(QLabel("Always left out (gitignore syntax; .gitignore files are "
                                "respected too):"))
        layout.addWidget(excludes)

    def _pick(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder")
        if path:
            self.add_folder(Path(path))

    def add_folder(self, path: Path) -> None:
        if str(path) not in self.chosen():
            self.folders.addItem(str(path))

    def _remove(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))

    def chosen(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def validatePage(self) -> bool:
        self.wiz.folders = [Path(p) for p in self.chosen()]
        return True


class ModelPage(QWizardPage):
    """A model from the catalog (fit labels, download with progress), a local GGUF, or later
    (answers are then extractive: quotes from your files)."""

    def __init__(self, wizard: OnboardingWizard):
        super().__init__()
        self.wiz = wizard
        self.setTitle("A language model")
        self.setSubTitle("Familiar runs a model on this computer. Without one it still answers, "
                         "by quoting the passages of your files that match best.")
        self.later = QRadioButton("Later: start without a model")
        self.later.setChecked(True)
        self.download = QRadioButton("Download one of these (the labels say how each fits "
                                     "this computer)")
        self.catalog = CatalogPanel(wizard.tasks)
        self.later.toggled.connect(self._later_toggled)
        self.catalog.setTitle("")
        self.catalog.downloaded.connect(self._downloaded)
        self.catalog.failed.connect(self._bad)
        self.catalog.table.cellClicked.connect(lambda *_: self.download.setChecked(True))
        self.local = QRadioButton("Use a GGUF model file from this computer")
        self.pick = QPushButton("Choose file…")
        self.pick.clicked.connect(self._pick)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.later, self.download, self.catalog, self.local, self.pick,
                       self.note):
            layout.addWidget(widget)

    def _later_toggled(self, on: bool) -> None:
        if on:
            self.catalog.cancel_downloads()

    def initializePage(self) -> None:  # noqa: N802 (Qt API)
        self.catalog.refresh()

    def isComplete(self) -> bool:  # noqa: N802 (Qt API)
        return not self.catalog.busy  # wait for a download (or cancel it) before finishing

    def start_download(self, entry: Any) -> None:
        self.download.setChecked(True)
        self.catalog.download(entry)
        self.completeChanged.emit()

    def _downloaded(self, entry: Any, result: Any) -> None:
        self.wiz.model_path = Path(result.path)
        self.download.setChecked(True)
        self.note.setText(f"{entry.name} is downloaded and will answer your questions.")
        self.completeChanged.emit()

    def _pick(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "GGUF models (*.gguf)")
        if path:
            self.choose_file(Path(path))

    def choose_file(self, path: Path) -> None:
        self.note.setText("Checking the file…")
        self.wiz.tasks.run("io", "check-model", _check_model, path,
                           on_done=self._checked, on_error=self._bad)

    def _checked(self, info: GgufInfo) -> None:
        self.wiz.model_path = info.path
        self.local.setChecked(True)
        self.note.setText(f"{info.name or info.path.name}: {info.architecture}, "
                          f"{info.size_bytes / 2**30:.1f} GiB")

    def _bad(self, exc: BaseException) -> None:
        self.wiz.model_path = None
        self.later.setChecked(True)
        self.note.setText(str(exc) if isinstance(exc, FamiliarError)
                          else f"Not a usable model ({type(exc).__name__}).")
        self.completeChanged.emit()

    def validatePage(self) -> bool:  # noqa: N802 (Qt API)
        if self.later.isChecked():
            self.wiz.model_path = None
        return True


class OnboardingWizard(QWizard):
    """After ``accepted``: ``profile`` (unlocked), ``folders`` and ``model_path`` chosen."""

    def __init__(self, home: Path, tasks: UiTasks, parent: Any = None):
        super().__init__(parent)
        self.home = home
        self.tasks = tasks
        self.profile: UnlockedProfile | None = None
        self.recovery_code = ""
        self.creating = False
        self.folders: list[Path] = []
        self.model_path: Path | None = None
        self.setWindowTitle("Welcome to Familiar")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.protect_page = ProtectPage(self)
        self.recovery_page = RecoveryPage(self)
        self.folders_page = FoldersPage(self)
        self.model_page = ModelPage(self)
        for page in (self.protect_page, self.recovery_page, self.folders_page, self.model_page):
            self.addPage(page)
        self.resize(620, 520)

    def reject(self) -> None:
        if self.profile is not None and self.currentPage() is self.recovery_page:
            return  # the key must be confirmed: there is no other moment to see it
        super().reject()
