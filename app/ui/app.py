"""The desktop app: QApplication, theme, single instance, unlock or onboarding, then the main
window, tray and quick-ask over one ``Runtime``. ``run_gui(argv)`` is the entry point.

``FamiliarApp`` lives on the main thread and only draws and routes: unlocking, opening the
runtime, indexing and answering run on lanes (``app.ui.tasks``). Locking drops every window
that shows personal data and closes the runtime on the app's own ``session`` lane.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from app.core.display import no_display, window_problem, x11_missing
from app.core.instance import request_running_instance
from app.core.paths import data_home
from app.core.profile.vault import UnlockedProfile, Vault, profile_exists
from app.core.tasks import Lane, Lanes
from app.ui.chat.chat_page import ChatPage
from app.ui.hotkey import GlobalHotkey
from app.ui.icons import app_icon
from app.ui.idle_lock import IdleLock
from app.ui.instance_server import InstanceServer
from app.ui.library_page import LibraryPage
from app.ui.main_window import MainWindow
from app.ui.memory_page import MemoryPage
from app.ui.models_page import ModelsPage
from app.ui.onboarding import OnboardingWizard
from app.ui.opener import Opener
from app.ui.quick_ask import QuickAsk
from app.ui.session import close_runtime, open_runtime, start_background
from app.ui.settings_page import SettingsPage
from app.ui.tasks import UiTasks
from app.ui.theme import ThemeController
from app.ui.tray import Tray, tray_state
from app.ui.unlock import UnlockDialog

log = logging.getLogger(__name__)

STATUS_INTERVAL_MS = 500
TRAY_NOTICE = ("Familiar keeps running in the tray; indexing continues. "
               "Use the tray menu to open it again or quit.")


class FamiliarApp(QObject):
    """One profile's app session. Signals say when a runtime is ready or gone (tests wait on
    them)."""

    session_ready = Signal(object)  # Runtime
    locked = Signal()

    def __init__(self, qapp: QApplication, home: Path, opener: Opener | None = None,
                 watch: bool = True):
        """``watch``: start the indexer's watching and the personalization worker after
        unlock (tests of the shell turn it off only where they say so)."""
        super().__init__()
        self.qapp = qapp
        self.home = home
        self.opener = opener or Opener()
        self.watch = watch
        self.session_lane = Lane("session")
        self.server = InstanceServer(home, self)
        self.theme = ThemeController(qapp, "system")
        self.tray = Tray(self)
        self.lanes = Lanes()
        self.tasks = UiTasks(self.lanes, self)
        self.runtime: Any = None
        self.window: MainWindow | None = None
        self.quick: QuickAsk | None = None
        self.library: LibraryPage | None = None
        self.gate: QWidget | None = None
        self.want_quick_ask = False
        self._lock_when_open = False
        self.exit_app = qapp.quit  # tests replace it: the test run keeps its QApplication
        self.hotkey = GlobalHotkey(self)
        self.hotkey.pressed.connect(self.quick_ask)
        self.idle_lock = IdleLock(qapp, self)
        self.idle_lock.idle_timeout.connect(self.lock)
        self.idle_lock.user_active.connect(self._user_active)
        self.start_hidden = False
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self._poll_status)
        self.server.activate_requested.connect(self.activate)
        self.server.quick_ask_requested.connect(self.quick_ask)
        self.server.lock_requested.connect(self.lock)
        self.server.quit_requested.connect(self.quit, Qt.ConnectionType.QueuedConnection)
        self.tray.open_requested.connect(self.activate)
        self.tray.quick_ask_requested.connect(self.quick_ask)
        self.tray.lock_requested.connect(self.lock)
        self.tray.pause_toggled.connect(self.set_paused)
        self.tray.quit_requested.connect(self.quit)

    # --- start ------------------------------------------------------------------------------

    def start(self, quick_ask: bool = False, hidden: bool = False) -> bool:
        """Listen for other launches, then unlock or onboard. False: another instance runs.
        ``hidden`` (login start): after unlocking, stay in the tray instead of opening the
        window, when there is a tray."""
        if not self.server.listen():
            return False
        self.want_quick_ask = quick_ask
        self.start_hidden = hidden and Tray.available()
        if Tray.available():
            self.tray.show()
        self.show_gate()
        return True

    def show_gate(self) -> None:
        if profile_exists(self.home):
            dialog = UnlockDialog(Vault.load(self.home), self.tasks)
            dialog.unlocked.connect(lambda p: self.open_session(p))
            dialog.rejected.connect(self._gate_closed)
            self.gate = dialog
            dialog.show()
            dialog.start()
        else:
            wizard = OnboardingWizard(self.home, self.tasks)
            wizard.finished.connect(lambda _r: self._onboarded(wizard))
            self.gate = wizard
            wizard.show()

    def _gate_closed(self) -> None:
        if self.runtime is None:
            self.quit()

    def _onboarded(self, wizard: OnboardingWizard) -> None:
        if wizard.profile is None:
            self.quit()
            return
        self.open_session(wizard.profile, wizard.folders, wizard.model_path)

    def open_session(self, profile: UnlockedProfile, folders: list[Path] | None = None,
                     model_path: Path | None = None) -> None:
        self.gate = None
        self._lock_when_open = False
        # The session lane serialises open, start and close: a lock never races a start.
        self.tasks.run(self.session_lane, "open-session", open_runtime, profile, self.lanes,
                       folders or [], model_path, on_done=self._session_opened,
                       on_error=self._session_failed, replace=False)

    def _session_failed(self, exc: BaseException) -> None:
        log.error("opening the profile failed: %s", type(exc).__name__)
        self.show_gate()

    def _session_opened(self, runtime: Any) -> None:
        if self._lock_when_open:  # locked while the profile was opening
            self._lock_when_open = False
            self.tasks.run(self.session_lane, "close", close_runtime, runtime,
                           on_done=lambda _r: self.locked.emit(), replace=False)
            self._new_lanes()
            self.show_gate()
            return
        self.runtime = runtime
        self.theme.apply(runtime.settings.ui.theme)
        chat = ChatPage(runtime, self.tasks, self.opener)
        self.library = LibraryPage(runtime, self.tasks)
        self.library.pause_toggled.connect(self.set_paused)
        settings = SettingsPage(runtime, self.tasks, self.theme)
        settings.lock_now.connect(self.lock)
        settings.saved.connect(self._settings_saved)
        pages: list[tuple[str, QWidget]] = [("Library", self.library)]
        pages.append(("Models", ModelsPage(runtime, self.tasks)))
        pages.append(("Memory", MemoryPage(runtime, self.tasks)))
        pages.append(("Settings", settings))
        self.window = MainWindow(chat, pages)
        self.window.setWindowIcon(app_icon())
        self.window.keep_in_tray = Tray.available()
        self.window.hidden_to_tray.connect(self._hidden_to_tray)
        self.window.closed.connect(self.quit, Qt.ConnectionType.QueuedConnection)
        self.quick = QuickAsk(runtime, self.tasks, self.opener)
        self.quick.open_in_main.connect(self.open_conversation)
        chat.start()
        self.library.start()
        self.tray.set_paused(runtime.settings.indexing.paused)
        self.tray.set_state("idle")
        self.idle_lock.set_minutes(runtime.settings.privacy.lock_after_idle_min)
        self.hotkey.register(runtime.settings.ui.hotkey)
        if self.watch:
            self.tasks.run(self.session_lane, "start-background", start_background, runtime,
                           replace=False)
        self._status_timer.start()
        if self.want_quick_ask:
            self.want_quick_ask = False
            self.quick.popup()
        elif self.start_hidden:
            self._set_window_hidden(True)
        else:
            self.window.bring_to_front()
        self.start_hidden = False
        self.idle_lock.watch_windows()
        self.session_ready.emit(runtime)

    # --- routing ----------------------------------------------------------------------------

    def activate(self) -> None:
        if self.window is not None:
            self.window.bring_to_front()
            self._set_window_hidden(False)
            self.idle_lock.watch_windows()
        elif self.gate is not None:
            self.gate.show()
            self.gate.raise_()
            self.gate.activateWindow()

    def quick_ask(self) -> None:
        if self.quick is not None:
            if self.quick.isVisible():
                self.quick.hide()
            else:
                self.quick.start_over()
                self.quick.popup()
                self.idle_lock.watch_windows()
        else:
            self.want_quick_ask = True
            self.activate()

    def open_conversation(self, conversation_id: int) -> None:
        if self.window is not None:
            self.window.show_page("Chat")
            self.window.chat.open_conversation(conversation_id)
            self.window.bring_to_front()

    def set_paused(self, paused: bool) -> None:
        if self.runtime is None:
            return
        indexer = self.runtime.indexer
        indexer.pause() if paused else indexer.resume()
        self.tray.set_paused(paused)
        if self.library is not None:
            self.library.show_paused(paused)
        self.tasks.run("io", "save-settings", lambda _s, rt: rt.save_settings(), self.runtime)

    def _settings_saved(self) -> None:
        if self.runtime is not None:
            self.idle_lock.set_minutes(self.runtime.settings.privacy.lock_after_idle_min)
            self.hotkey.register(self.runtime.settings.ui.hotkey)

    def _user_active(self) -> None:
        """Input in any window: the idle-time worker steps aside (see personalization)."""
        if self.runtime is not None:
            self.runtime.note_user_activity()

    def _set_window_hidden(self, hidden: bool) -> None:
        """A window closed to the tray counts as idle for the personalization worker."""
        if self.runtime is not None:
            self.runtime.set_window_hidden(hidden)

    def _hidden_to_tray(self) -> None:
        self._set_window_hidden(True)
        ui = self.runtime.settings.ui if self.runtime is not None else None
        if ui is not None and not ui.tray_notice_shown:
            self.tray.notify("Familiar", TRAY_NOTICE)
            ui.tray_notice_shown = True
            self.tasks.run("io", "save-settings", lambda _s, rt: rt.save_settings(), self.runtime)

    def _poll_status(self) -> None:
        if self.runtime is None:
            return
        status = self.runtime.indexer.status()
        if self.library is not None:
            self.library.show_status(status)
        self.tray.set_state(*tray_state(status))

    # --- lock and quit ----------------------------------------------------------------------

    def _drop_session(self) -> Any:
        runtime, self.runtime = self.runtime, None
        self._status_timer.stop()
        self.idle_lock.set_minutes(0)
        for widget in (self.quick, self.window):
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.quick = self.window = self.library = None
        self.tray.set_state("locked")
        return runtime

    def lock(self) -> None:
        """Drop windows and keys now; the runtime closes on the session lane."""
        runtime = self._drop_session()
        if runtime is None:
            if self.gate is None:  # a profile is being opened: close it once it is
                self._lock_when_open = True
            return
        self.tasks.run(self.session_lane, "close", close_runtime, runtime,
                       on_done=lambda _r: self.locked.emit(), replace=False)
        self._new_lanes()
        self.show_gate()

    def _new_lanes(self) -> None:
        """The closed runtime shut its lanes down; the next unlock gets fresh ones."""
        self.lanes = Lanes()
        self.tasks = UiTasks(self.lanes, self)

    def quit(self) -> None:
        runtime = self._drop_session()
        if self.gate is not None:
            self.gate.hide()
        self.server.close()
        self.hotkey.unregister()
        self.tray.hide()
        if runtime is None:
            self.lanes.shutdown()
            self.exit_app()
            return
        self.tasks.run(self.session_lane, "close", close_runtime, runtime,
                       on_done=lambda _r: self.exit_app(), on_error=lambda _e: self.exit_app(),
                       replace=False)


def run_gui(argv: list[str], quick_ask: bool = False) -> int:
    """Start the app, or hand off to the running one (``activate`` / ``quick-ask``).
    ``--tray`` in ``argv`` (the login start) keeps the window closed after unlocking."""
    from app.core.gil import favor_responsiveness
    from app.core.logs import setup_logging

    setup_logging()
    favor_responsiveness()
    home = data_home()
    hidden = "--tray" in argv[1:]
    if hidden and request_running_instance(home, "ping"):
        return 0
    if not hidden and request_running_instance(home, "quick-ask" if quick_ask else "activate"):
        return 0
    headless = no_display()
    problem = (window_problem(x11_missing(), headless) if QApplication.instance() is None
               else None)
    if problem:
        # Qt would abort the process (and name the wrong library when one is missing).
        log.error("the window cannot open: %s", "no display" if headless else
                  "system libraries of Qt's X11 plugin are missing")
        print(problem, file=sys.stderr)
        return 1
    qapp = QApplication.instance() or QApplication(argv)
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("Familiar")
    qapp.setDesktopFileName("familiar")
    qapp.setWindowIcon(app_icon())
    qapp.setQuitOnLastWindowClosed(False)
    app = FamiliarApp(qapp, home)
    if not app.start(quick_ask=quick_ask, hidden=hidden):
        # Lost a race with another launch: hand off after all.
        return 0 if request_running_instance(home, "activate") else 1
    return int(qapp.exec())


if __name__ == "__main__":
    sys.exit(run_gui(sys.argv))
