"""The global quick-ask hotkey through pynput (optional extra ``hotkey``), where the platform
lets an app listen: X11, Windows, macOS (with the accessibility permission). Wayland does not
let applications grab keys: bind ``familiar quick-ask`` in the desktop's own shortcut
settings instead (see ``WAYLAND_HELP``).

pynput calls back on its own thread; ``pressed`` is a Qt signal, so the app receives it
queued on the main thread.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

WAYLAND_HELP = ("On Wayland, applications cannot listen for global keys. Add a custom "
                "shortcut in your desktop's keyboard settings (GNOME: Settings > Keyboard > "
                "Custom Shortcuts; KDE: System Settings > Shortcuts > Custom) that runs:  "
                "familiar quick-ask")


def is_wayland() -> bool:
    return sys.platform.startswith("linux") and (
        os.environ.get("XDG_SESSION_TYPE") == "wayland" or bool(os.environ.get("WAYLAND_DISPLAY"))
    )


def why_unavailable() -> str | None:
    """None when a global hotkey can be registered here, else the reason to show."""
    if is_wayland():
        return WAYLAND_HELP
    try:
        import pynput  # noqa: F401
    except Exception:
        return ("Global hotkeys need the optional 'pynput' package "
                "(pip install 'familiar[hotkey]'); or bind 'familiar quick-ask' in your "
                "desktop's shortcut settings.")
    return None


class GlobalHotkey(QObject):
    pressed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._listener: Any = None
        self.error = ""

    def register(self, combo: str) -> bool:
        """Listen for ``combo`` (pynput syntax, e.g. ``<ctrl>+<alt>+space``)."""
        self.unregister()
        reason = why_unavailable()
        if reason is not None:
            self.error = reason
            return False
        from pynput import keyboard

        try:
            combo = combo.replace("+space", "+<space>") if "<space>" not in combo else combo
            self._listener = keyboard.GlobalHotKeys({combo: self.pressed.emit})
            self._listener.start()
        except Exception as exc:
            self.error = f"the hotkey could not be registered ({type(exc).__name__})"
            log.warning("global hotkey unavailable: %s", type(exc).__name__)
            self._listener = None
            return False
        self.error = ""
        return True

    def unregister(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
