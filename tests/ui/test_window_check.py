"""Starting the window on an X11 system without the libraries of Qt's xcb plugin: a clear
message and exit status 1, before Qt would abort the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A process of its own: run_gui only checks before the first QApplication, and this test
# process has one. The check itself is replaced; tests/core/test_display.py tests the real one.
SCRIPT = """
import sys
import app.ui.app as gui
gui.x11_missing = lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
sys.exit(gui.run_gui(["familiar"]))
"""


def test_missing_x11_libraries_are_named_and_the_start_fails_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "FAMILIAR_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "xcb",
           "DISPLAY": ":0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 1, done.stderr
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in done.stderr
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in done.stderr
    assert "Aborted" not in done.stderr and "qt.qpa" not in done.stderr


def test_without_a_display_the_start_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["FAMILIAR_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "app"], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 1, done.stderr
    assert "needs a desktop session" in done.stderr and "qt.qpa" not in done.stderr
