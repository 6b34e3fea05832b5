"""Start at login: the one place that writes or removes the OS's login item for Familiar.

Linux: an XDG autostart entry ``$XDG_CONFIG_HOME/autostart/familiar.desktop``. Windows: the
value ``Familiar`` under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`` (the same
value the installer writes, so either side can undo the other). macOS: a LaunchAgent
``~/Library/LaunchAgents/io.github.familiar.Familiar.plist`` (RunAtLoad), read by launchd at the
next login. The entries hold only the program's own path, never user data.

The settings page calls ``set_start_at_login(settings.ui.start_at_login)`` after saving, and
may show ``start_at_login_enabled()``. Each call is one small file or registry write: any thread
may call it; the GUI runs it on the ``io`` lane like its other saves.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from app.core.profile.header import write_atomic

APP_ID = "io.github.familiar.Familiar"
DESKTOP_NAME = "familiar.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "Familiar"
# A login start stays in the tray after unlocking (``familiar --tray``; see app/ui/app.py).
LOGIN_ARGS: tuple[str, ...] = ("--tray",)


def launch_command(extra: Sequence[str] = LOGIN_ARGS) -> list[str]:
    """The command line that starts this installation's GUI.

    The bundle's own executable when frozen (PyInstaller; ``familiar-gui`` where the bundle
    has one), else the ``familiar`` script next to this interpreter (a venv), else the one on
    PATH, else ``python -m app``.
    """
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable)  # the windowed twin (Windows, macOS) opens no console
        gui = exe.with_name("familiar-gui.exe" if os.name == "nt" else "familiar-gui")
        return [str(gui if gui.exists() else exe), *extra]
    script = Path(sys.executable).with_name("familiar.exe" if os.name == "nt" else "familiar")
    if script.exists():
        return [str(script), *extra]
    found = shutil.which("familiar")
    if found:
        return [found, *extra]
    return [sys.executable, "-m", "app", *extra]


class LoginItem(Protocol):
    """One platform's login item. ``location`` names where it lives (a path or a key)."""

    location: str

    def enable(self, command: Sequence[str]) -> None: ...

    def disable(self) -> bool: ...

    def is_enabled(self) -> bool: ...


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _remove(path: Path) -> bool:
    """Delete a login item's file; False when there was none."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def desktop_exec(command: Sequence[str]) -> str:
    """Quote ``command`` for an ``Exec=`` line (Desktop Entry spec, "The Exec key")."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    parts = []
    for arg in command:
        arg = arg.replace("%", "%%")
        if any(ch in reserved for ch in arg):
            escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
            arg = f'"{escaped}"'
        parts.append(arg)
    # The spec applies string-value escaping on top: a backslash in the line is written twice.
    return " ".join(parts).replace("\\", "\\\\")


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/familiar.desktop`` (freedesktop Desktop Application
    Autostart spec); GNOME, KDE, Xfce and others start it at login."""

    def __init__(self, config_home: Path):
        self.path = config_home / "autostart" / DESKTOP_NAME
        self.location = str(self.path)

    @classmethod
    def for_user(cls, env: Mapping[str, str] | None = None) -> XdgAutostart:
        env = os.environ if env is None else env
        config = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
        return cls(Path(config))

    def entry(self, command: Sequence[str]) -> str:
        return "\n".join([
            "[Desktop Entry]",
            "Type=Application",
            "Name=Familiar",
            "Comment=Start Familiar at login",
            f"Exec={desktop_exec(command)}",
            "Icon=familiar",
            "Terminal=false",
            "NoDisplay=true",
            "X-GNOME-Autostart-enabled=true",
            "X-GNOME-Autostart-Delay=10",
            "X-KDE-autostart-after=panel",
            "",
        ])

    def enable(self, command: Sequence[str]) -> None:
        _write_atomically(self.path, self.entry(command).encode())

    def disable(self) -> bool:
        return _remove(self.path)

    def is_enabled(self) -> bool:
        if not self.path.is_file():
            return False
        text = self.path.read_text(encoding="utf-8", errors="replace")
        return "X-GNOME-Autostart-enabled=false" not in text and "Hidden=true" not in text


class LaunchAgent:
    """``~/Library/LaunchAgents/<APP_ID>.plist``: launchd starts it in the user's GUI session
    at each login (``RunAtLoad``). Takes effect at the next login; nothing is started now."""

    def __init__(self, home: Path):
        self.path = home / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
        self.location = str(self.path)

    def agent(self, command: Sequence[str]) -> dict[str, object]:
        return {
            "Label": APP_ID,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }

    def enable(self, command: Sequence[str]) -> None:
        _write_atomically(self.path, plistlib.dumps(self.agent(command)))

    def disable(self) -> bool:
        return _remove(self.path)

    def is_enabled(self) -> bool:
        try:
            with self.path.open("rb") as fh:
                agent = plistlib.load(fh)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return bool(agent.get("RunAtLoad")) and not agent.get("Disabled", False)


class Registry(Protocol):
    """The three operations on one registry key that the Run entry needs."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool: ...


class WinRegistryRun:
    """``HKCU\\...\\CurrentVersion\\Run`` through ``winreg`` (Windows only)."""

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> bool:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            return False
        return True


def windows_command_line(command: Sequence[str]) -> str:
    """Join ``command`` the way Windows' CreateProcess splits it (MS C runtime rules)."""
    return subprocess.list2cmdline(list(command))


class WindowsRunKey:
    """The ``Familiar`` value under the current user's Run key."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.location = f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"

    def enable(self, command: Sequence[str]) -> None:
        self.registry.set(RUN_VALUE, windows_command_line(command))

    def disable(self) -> bool:
        return self.registry.delete(RUN_VALUE)

    def is_enabled(self) -> bool:
        return bool(self.registry.get(RUN_VALUE))


def login_item(platform: str | None = None) -> LoginItem:
    """The login item of this (or the named) platform for the current user."""
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsRunKey(WinRegistryRun())
    if platform == "darwin":
        return LaunchAgent(Path.home())
    return XdgAutostart.for_user()


def set_start_at_login(enabled: bool, item: LoginItem | None = None) -> str:
    """Write (``enabled``) or remove the login item; returns where it lives. Idempotent."""
    item = item or login_item()
    if enabled:
        item.enable(launch_command())
    else:
        item.disable()
    return item.location


def start_at_login_enabled(item: LoginItem | None = None) -> bool:
    """Is a login item in place (the OS state, which the user may also change elsewhere)?"""
    return (item or login_item()).is_enabled()
