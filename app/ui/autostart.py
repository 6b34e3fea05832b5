"""Start at login: the platform's own mechanism, holding only the command to run (no personal
data). Linux/BSD: an XDG autostart .desktop file; macOS: a LaunchAgent; Windows: the HKCU Run
key. Any thread (small file or registry writes)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

NAME = "familiar"


def launch_command() -> list[str]:
    """How to start the GUI again: the frozen executable, or this Python with ``-m app``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "app"]


def _xdg_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / f"{NAME}.desktop"


def _mac_file() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / "app.familiar.plist"


def is_enabled() -> bool:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER,
                                r"Software\Microsoft\Windows\CurrentVersion\Run") as key:
                winreg.QueryValueEx(key, "Familiar")
            return True
        except OSError:
            return False
    return (_mac_file() if sys.platform == "darwin" else _xdg_file()).exists()


def set_enabled(enabled: bool) -> None:
    command = launch_command()
    if sys.platform == "win32":
        import subprocess
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER,
                            r"Software\Microsoft\Windows\CurrentVersion\Run", 0,
                            winreg.KEY_SET_VALUE) as key:
            if enabled:
                winreg.SetValueEx(key, "Familiar", 0, winreg.REG_SZ,
                                  subprocess.list2cmdline(command))
            else:
                try:
                    winreg.DeleteValue(key, "Familiar")
                except OSError:
                    pass
        return
    path = _mac_file() if sys.platform == "darwin" else _xdg_file()
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if sys.platform == "darwin":
        args = "".join(f"<string>{a}</string>" for a in command)
        text = ('<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
                "<key>Label</key><string>app.familiar</string>"
                f"<key>ProgramArguments</key><array>{args}</array>"
                "<key>RunAtLoad</key><true/></dict></plist>\n")
    else:
        text = ("[Desktop Entry]\nType=Application\nName=Familiar\n"
                f"Exec={shlex.join(command)}\nIcon=familiar\nX-GNOME-Autostart-enabled=true\n")
    path.write_text(text, encoding="utf-8")
