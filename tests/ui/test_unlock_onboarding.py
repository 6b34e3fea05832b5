"""First run with a passphrase (recovery key shown once and confirmed, folders, model later),
and the unlock dialog: a wrong passphrase says so and the right one opens the profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWizard

from app.core.profile.vault import Vault
from app.ui.onboarding import OnboardingWizard
from app.ui.tasks import UiTasks
from app.ui.unlock import UnlockDialog
from tests.fixtures.fake_hub import fake_hub  # noqa: F401
from tests.fixtures.profiles import PASSPHRASE
from tests.fixtures.tiny_gguf import tiny_gguf  # noqa: F401


def test_onboarding_with_a_passphrase(qtbot: Any, tasks: UiTasks, home: Path,
                                      tmp_path: Path) -> None:
    wizard = OnboardingWizard(home, tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    page = wizard.protect_page
    page.use_passphrase.setChecked(True)
    page.passphrase.setText("tr0ub4dor & 3")
    page.repeat.setText("tr0ub4dor & 4")
    assert not page.isComplete()  # the two entries differ
    page.repeat.setText("tr0ub4dor & 3")
    assert page.isComplete()
    wizard.next()  # starts creation on the io lane; the page waits for it
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=15000)
    assert wizard.profile is not None and not wizard.profile.locked
    code = wizard.recovery_page.code.text()
    assert len(code) > 20
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.reject()  # cannot walk away before confirming the key was saved
    assert wizard.isVisible()
    wizard.recovery_page.saved.setChecked(True)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()
    assert wizard.recovery_code == ""  # shown once, then dropped
    assert wizard.currentPage() is wizard.folders_page
    wizard.folders_page.add_folder(tmp_path)
    wizard.next()
    assert wizard.folders == [tmp_path]
    assert wizard.model_page.later.isChecked()
    wizard.accept()
    assert wizard.model_path is None
    wizard.profile.lock()
    # The profile opens with the passphrase and with the recovery key shown once.
    Vault.load(home).unlock_passphrase("tr0ub4dor & 3").lock()
    Vault.load(home).unlock_recovery(code).lock()


def test_onboarding_shows_the_default_exclusions(qtbot: Any, tasks: UiTasks, home: Path) -> None:
    from PySide6.QtWidgets import QPlainTextEdit

    wizard = OnboardingWizard(home, tasks)
    qtbot.addWidget(wizard)
    shown = wizard.folders_page.findChild(QPlainTextEdit).toPlainText().splitlines()
    assert "node_modules/" in shown and ".*" in shown


def test_unlock_wrong_then_right_passphrase(qtbot: Any, tasks: UiTasks,
                                            created: tuple[Path, str]) -> None:
    home, _code = created
    dialog = UnlockDialog(Vault.load(home), tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start()
    dialog.secret.setText("not the passphrase")
    dialog.try_unlock()
    assert not dialog.unlock_button.isEnabled()  # busy while Argon2 runs on the lane
    qtbot.waitUntil(lambda: "Wrong passphrase" in dialog.error.text(), timeout=15000)
    assert dialog.secret.isEnabled() and dialog.profile is None
    dialog.secret.setText(PASSPHRASE)
    with qtbot.waitSignal(dialog.unlocked, timeout=15000) as blocker:
        dialog.try_unlock()
    profile = blocker.args[0]
    assert not profile.locked and dialog.result() == dialog.DialogCode.Accepted
    profile.lock()


def test_unlock_with_the_recovery_key(qtbot: Any, tasks: UiTasks,
                                      created: tuple[Path, str]) -> None:
    home, code = created
    dialog = UnlockDialog(Vault.load(home), tasks)
    qtbot.addWidget(dialog)
    dialog.use_recovery.setChecked(True)
    dialog.secret.setText(code)
    with qtbot.waitSignal(dialog.unlocked, timeout=15000) as blocker:
        dialog.try_unlock()
    blocker.args[0].lock()


def test_onboarding_model_step_downloads_from_the_catalog(
    qtbot: Any, tasks: UiTasks, home: Path, fake_hub: Any, tiny_gguf: Path,  # noqa: F811
) -> None:
    """The catalog shows fit labels; a download (from a hub-like server on 127.0.0.1) shows
    progress, holds the wizard until done, and becomes the model the app answers with."""
    from app.core.engine.catalog import load_catalog

    entry = next(e for e in load_catalog() if e.id == "qwen2.5-0.5b-instruct")
    fake_hub.state.add(entry.repo, entry.file, tiny_gguf.read_bytes())
    wizard = OnboardingWizard(home, tasks)
    qtbot.addWidget(wizard)
    page = wizard.model_page
    page.initializePage()
    qtbot.waitUntil(lambda: page.catalog.table.rowCount() > 0, timeout=10000)
    labels = {page.catalog.table.item(r, 2).text() for r in range(page.catalog.table.rowCount())}
    assert labels <= {"fits well", "will be slow", "too big for this machine"}
    with qtbot.waitSignal(page.catalog.downloaded, timeout=30000):
        page.start_download(entry)
        assert not page.isComplete() and not page.catalog.progress.isHidden()
    assert page.isComplete() and page.download.isChecked()
    assert wizard.model_path is not None and wizard.model_path.read_bytes() == tiny_gguf.read_bytes()
