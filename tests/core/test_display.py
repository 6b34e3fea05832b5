"""The X11 check before the window opens: which system libraries Qt's xcb plugin lacks."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from app.core import display

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


def fake_run(stdout: str, returncode: int = 0):  # type: ignore[no-untyped-def]
    def run(args: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, returncode, stdout, "")
    return run


@pytest.mark.parametrize(("env", "platform", "expected"), [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({}, "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb;wayland"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, "linux", False),
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_uses_xcb(env: dict[str, str], platform: str, expected: bool) -> None:
    assert display.uses_xcb(env, platform) is expected


@pytest.mark.parametrize(("soname", "package"), [
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("odd-name", "odd-name"),
])
def test_debian_package(soname: str, package: str) -> None:
    assert display.debian_package(soname) == package


def test_missing_libraries_from_ldd_each_once(tmp_path: Path) -> None:
    found = display.missing_libraries(tmp_path / "libqxcb.so", run=fake_run(LDD_OUTPUT),
                                      ldd="/usr/bin/ldd")
    assert found == ["libxcb-icccm.so.4", "libxkbcommon-x11.so.0"]
    assert display.missing_libraries(tmp_path / "p.so", run=fake_run("\tlibc.so.6 => /lib/c\n"),
                                     ldd="/usr/bin/ldd") == []


def test_without_ldd_the_loader_names_the_first_missing_library(tmp_path: Path) -> None:
    def load(path: str) -> object:
        raise OSError("libxcb-keysyms.so.1: cannot open shared object file: No such file")

    def broken_ldd(args: list[str], **_kw: object) -> subprocess.CompletedProcess[str]:
        raise OSError("not executable")

    assert display.missing_libraries(tmp_path / "p.so", run=fake_run("", 1), load=load,
                                     ldd="/usr/bin/ldd") == ["libxcb-keysyms.so.1"]
    assert display.missing_libraries(tmp_path / "p.so", run=broken_ldd, load=load,
                                     ldd="/usr/bin/ldd") == ["libxcb-keysyms.so.1"]
    assert display.missing_libraries(tmp_path / "p.so", run=fake_run("", 1),
                                     load=lambda _p: object(), ldd="/usr/bin/ldd") == []


def test_x11_missing_only_asks_when_qt_would_use_x11(tmp_path: Path) -> None:
    asked: list[Path] = []

    def missing(plugin: Path) -> list[str]:
        asked.append(plugin)
        return ["libxcb-icccm.so.4"]

    plugin = tmp_path / "libqxcb.so"
    assert display.x11_missing({"QT_QPA_PLATFORM": "offscreen"}, "linux", plugin, missing) == []
    assert asked == []
    assert display.x11_missing({"DISPLAY": ":0"}, "linux", plugin, missing) == [
        "libxcb-icccm.so.4"]
    assert asked == [plugin]


def test_window_problem_names_libraries_and_packages() -> None:
    assert display.window_problem([]) is None
    text = display.window_problem(["libxcb-icccm.so.4", "libxkbcommon-x11.so.0"])
    assert text is not None
    assert "libxcb-icccm.so.4, libxkbcommon-x11.so.0" in text
    assert "sudo apt install libxcb-icccm4 libxkbcommon-x11-0" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_the_real_plugin_and_linker_agree() -> None:
    plugin = display.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    missing = display.missing_libraries(plugin)
    assert all(".so" in lib for lib in missing)
    if missing:
        with pytest.raises(OSError):
            ctypes.CDLL(str(plugin))
    else:
        ctypes.CDLL(str(plugin))


def test_no_display_is_told_before_qt_aborts() -> None:
    assert display.no_display({}, "linux")
    assert not display.no_display({"DISPLAY": ":0"}, "linux")
    assert not display.no_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not display.no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not display.no_display({}, "darwin")
    assert display.window_problem([], headless=True) == display.NO_DISPLAY
    assert "familiar ask, search, index" in display.NO_DISPLAY
