"""Whether the window can open on X11 (Linux): Qt's xcb platform plugin links system libraries
(libxcb-icccm, libxcb-keysyms, libxcb-cursor, libxkbcommon-x11, ...) that minimal desktops
and containers may lack. Qt then aborts the process with a hint about xcb-cursor whatever is
actually missing. This finds the plugin file without importing Qt, asks the dynamic linker
(``ldd``) which of its libraries cannot be found, and says so, with the packages to install.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)
_CANNOT_OPEN = re.compile(r"^(\S+?): cannot open shared object file")
_SONAME = re.compile(r"^(lib.+)\.so\.(\d+)$")


def uses_xcb(env: Mapping[str, str], platform: str) -> bool:
    """True when Qt would start on its X11 plugin: Linux, and ``QT_QPA_PLATFORM`` naming xcb
    first, or unset on an X display with no Wayland display (under Wayland Qt picks wayland)."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found from the package's location (nothing of Qt is imported)."""
    spec = importlib.util.find_spec("PySide6")
    for root in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_libraries(plugin: Path, run: Callable[..., subprocess.CompletedProcess[str]]
                      = subprocess.run, load: Callable[[str], object] = ctypes.CDLL,
                      ldd: str | None = None) -> list[str]:
    """The libraries ``plugin`` needs that the dynamic linker cannot find, in ldd's order
    (each once); without ldd, the first one that loading the plugin reports."""
    ldd = ldd or shutil.which("ldd")
    if ldd:
        try:
            done = run([ldd, str(plugin)], capture_output=True, text=True, timeout=10,
                       check=False)
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0:
            return list(dict.fromkeys(_NOT_FOUND.findall(done.stdout)))
    try:
        load(str(plugin))
    except OSError as exc:
        found = _CANNOT_OPEN.match(str(exc))
        return [found.group(1)] if found else []
    return []


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that usually ships ``soname``: libxcb-icccm.so.4 ->
    libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0."""
    found = _SONAME.match(soname)
    if not found:
        return soname
    base, version = found.groups()
    return f"{base}-{version}" if base[-1].isdigit() else f"{base}{version}"


def x11_missing(env: Mapping[str, str] | None = None, platform: str | None = None,
                plugin: Path | None = None,
                missing: Callable[[Path], list[str]] = missing_libraries) -> list[str]:
    """The system libraries Qt's X11 plugin lacks here; [] when it is complete, when Qt will
    not use X11, or when the plugin cannot be found."""
    env = os.environ if env is None else env
    if not uses_xcb(env, sys.platform if platform is None else platform):
        return []
    plugin = plugin or xcb_plugin()
    return missing(plugin) if plugin is not None else []


def install_hint(libraries: list[str]) -> str:
    packages = " ".join(dict.fromkeys(debian_package(lib) for lib in libraries))
    return f"on Debian or Ubuntu: sudo apt install {packages}"


def no_display(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Linux with neither an X nor a Wayland display and no platform chosen: Qt would try X11,
    fail to connect and abort."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    return (platform.startswith("linux") and not env.get("QT_QPA_PLATFORM", "").strip()
            and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"))


NO_DISPLAY = ("Familiar's window needs a desktop session, and none was found (DISPLAY and "
              "WAYLAND_DISPLAY are not set). The command line works without one: familiar "
              "ask, search, index (familiar --help).")


def window_problem(libraries: list[str], headless: bool = False) -> str | None:
    """What to tell the user when the window cannot open: no display (``headless``), or for
    want of ``libraries``."""
    if headless:
        return NO_DISPLAY
    if not libraries:
        return None
    return ("Familiar's window cannot open: Qt's X11 plugin needs system libraries that are "
            f"not installed: {', '.join(libraries)}.\n"
            f"To fix it {install_hint(libraries)}\n"
            "(on other systems, install the packages that provide those files). The command "
            "line (familiar ask, search, index) works without them.")
