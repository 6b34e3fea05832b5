"""The whole app in one process: unlock, main window, tray menu actions, close-to-tray notice,
quick-ask from the instance socket, lock and unlock again, quit."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.instance import request_running_instance
from app.core.settings_store import load_settings
from app.ui.app import FamiliarApp
from app.ui.unlock import UnlockDialog
from tests.fixtures.profiles import PASSPHRASE
from tests.ui.conftest import RecordingOpener


def _unlock(qtbot: Any, app: FamiliarApp) -> Any:
    gate = app.gate
    assert isinstance(gate, UnlockDialog) and gate.isVisible()
    gate.secret.setText(PASSPHRASE)
    with qtbot.waitSignal(app.session_ready, timeout=20000) as ready:
        gate.try_unlock()
    return ready.args[0]


def _ask_instance(qtbot: Any, home: Path, command: str) -> bool:
    """The client blocks until the server (this thread's event loop) answers: run it aside."""
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(request_running_instance(home, command)))
    thread.start()
    qtbot.waitUntil(lambda: bool(result), timeout=10000)
    thread.join()
    return result[0]


def test_tray_menu_lock_unlock_and_quit(qtbot: Any, created: tuple[Path, str],
                                        opener: RecordingOpener) -> None:
    home, _code = created
    qapp = QApplication.instance()
    app = FamiliarApp(qapp, home, opener)
    exits: list[bool] = []
    app.exit_app = lambda: exits.append(True)
    assert app.start()
    runtime = _unlock(qtbot, app)
    assert app.window is not None and app.window.isVisible()
    assert app.tray.tooltip == "Familiar — idle"
    assert app.tray.lock_action.isEnabled()

    # Tray: Quick ask opens the popup with its input focused; Esc hides it.
    app.tray.quick_ask_action.trigger()
    assert app.quick is not None and app.quick.isVisible()
    qtbot.keyClick(app.quick.input, Qt.Key.Key_Escape)
    assert not app.quick.isVisible()

    # Tray: Pause indexing pauses the indexer and persists the choice.
    app.tray.pause_action.trigger()
    assert runtime.settings.indexing.paused and runtime.indexer.waiting_for() == "paused"
    assert app.library is not None and app.library.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: load_settings(runtime.store).indexing.paused, timeout=5000)
    app.tray.pause_action.trigger()
    assert not runtime.settings.indexing.paused

    # Closing the window keeps the app in the tray, with a one-time notice.
    app.window.keep_in_tray = True
    with qtbot.waitSignal(app.window.hidden_to_tray, timeout=5000):
        app.window.close()
    assert not app.window.isVisible() and runtime.settings.ui.tray_notice_shown
    app.tray.open_action.trigger()
    assert app.window.isVisible()

    # The instance socket: quick-ask opens the popup, activate raises the window.
    assert _ask_instance(qtbot, home, "quick-ask")
    assert app.quick.isVisible()
    app.quick.hide()

    # Tray: Lock drops the window and the keys; the unlock dialog comes back.
    with qtbot.waitSignal(app.locked, timeout=20000):
        app.tray.lock_action.trigger()
    assert app.window is None and app.runtime is None and runtime.profile.locked
    assert app.tray.tooltip == "Familiar — locked" and not app.tray.lock_action.isEnabled()
    second = _unlock(qtbot, app)
    assert second is not runtime and not second.profile.locked

    # `familiar lock` reaches the running app through the socket too.
    with qtbot.waitSignal(app.locked, timeout=20000):
        assert _ask_instance(qtbot, home, "lock")
    assert app.runtime is None

    third = _unlock(qtbot, app)
    # Without a tray to live in, closing the main window quits the app.
    app.window.keep_in_tray = False
    app.window.close()
    qtbot.waitUntil(lambda: exits == [True], timeout=20000)
    assert third.profile.locked and app.runtime is None
    assert not request_running_instance(home, "activate")  # the socket is closed


def test_first_run_opens_the_onboarding_wizard(qtbot: Any, home: Path,
                                                opener: RecordingOpener) -> None:
    from app.ui.onboarding import OnboardingWizard

    app = FamiliarApp(QApplication.instance(), home, opener)
    exits: list[bool] = []
    app.exit_app = lambda: exits.append(True)
    assert app.start()
    assert isinstance(app.gate, OnboardingWizard) and app.gate.isVisible()
    # A second app for the same profile hands off instead of listening.
    other = FamiliarApp(QApplication.instance(), home, opener)
    assert not other.start()
    other.server.close()
    app.gate.reject()  # no profile created: the app ends
    assert exits == [True]


def test_login_start_stays_in_the_tray_and_input_pauses_idle_work(
    qtbot: Any, created: tuple[Path, str], opener: RecordingOpener, monkeypatch: Any,
) -> None:
    from app.ui.tray import Tray

    home, _code = created
    monkeypatch.setattr(Tray, "available", staticmethod(lambda: True))
    app = FamiliarApp(QApplication.instance(), home, opener, watch=False)
    app.exit_app = lambda: None
    assert app.start(hidden=True)
    runtime = _unlock(qtbot, app)
    assert app.window is not None and not app.window.isVisible() and runtime.window_hidden
    runtime.start_personalization()  # the app does this on its session lane (watch=True)
    scheduler = runtime.personalizer.scheduler
    assert scheduler.can_run() == (True, "idle")  # window in the tray: idle time
    assert _ask_instance(qtbot, home, "ping")  # a second login start finds this one
    app.activate()
    assert app.window.isVisible()
    assert scheduler.can_run() == (False, "the user is active")
    # Input anywhere in the app tells the idle worker the person is still there. The key goes
    # in as the platform delivers it: to the window first, then to the focused widget.
    noted: list[bool] = []
    real_note = scheduler.note_activity
    monkeypatch.setattr(scheduler, "note_activity", lambda: (noted.append(True), real_note()))
    app.idle_lock._since_active.invalidate()
    with qtbot.waitSignal(app.idle_lock.user_active, timeout=2000):
        qtbot.keyClick(app.window.windowHandle(), Qt.Key.Key_Shift)
    assert noted
    app.quit()
