"""The Windows and macOS packaging files cannot be built here (Inno Setup needs Windows,
hdiutil needs macOS); these checks keep them well-formed and in step with the app."""

from __future__ import annotations

import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app import __version__
from app.core import autostart

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def load_plist(name: str) -> dict[str, object]:
    with (PACKAGING / "macos" / name).open("rb") as fh:
        data = plistlib.load(fh)
    assert isinstance(data, dict)
    return data


def test_info_plist() -> None:
    info = load_plist("Info.plist")
    assert info["CFBundleIdentifier"] == autostart.APP_ID
    assert info["CFBundleShortVersionString"] == __version__
    assert info["CFBundleExecutable"] == "familiar-gui"  # the windowed EXE in familiar.spec
    assert info["LSUIElement"] is False  # build_dmg.sh --tray-only flips it
    assert info["CFBundleIconFile"] == "familiar.icns"


def test_launch_agent_matches_what_the_app_writes(tmp_path: Path) -> None:
    shipped = load_plist(f"{autostart.APP_ID}.plist")
    program = shipped["ProgramArguments"]
    assert isinstance(program, list)
    assert program[0].endswith("Familiar.app/Contents/MacOS/familiar-gui")
    written = autostart.LaunchAgent(tmp_path).agent(program)
    assert shipped == written


def test_shell_scripts_parse() -> None:
    for script in (PACKAGING / "macos" / "build_dmg.sh", PACKAGING / "linux" / "install.sh",
                   PACKAGING / "linux" / "uninstall.sh"):
        shell = "bash" if script.read_text().startswith("#!/usr/bin/env bash") else "sh"
        result = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
        assert script.stat().st_mode & 0o111, f"{script.name} is not executable"


def test_shellcheck_when_available() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = [str(p) for p in PACKAGING.rglob("*.sh")]
    result = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_inno_setup_script_agrees_with_the_app() -> None:
    iss = (PACKAGING / "windows" / "familiar.iss").read_text(encoding="utf-8")
    assert re.search(r'#define AppVersion "([^"]+)"', iss)[1] == __version__  # type: ignore[index]
    assert re.search(r'#define AppId "([^"]+)"', iss)[1] == autostart.APP_ID  # type: ignore[index]
    # Start at login: the same Run value the app's setting writes and removes.
    assert f'ValueName: "{autostart.RUN_VALUE}"' in iss
    assert autostart.RUN_KEY in iss
    sections = re.findall(r"^\[(\w+)\]", iss, flags=re.M)
    assert {"Setup", "Files", "Icons", "Registry", "Tasks", "Code"} <= set(sections)
    assert "familiar-gui.exe" in iss  # the windowed EXE in familiar.spec
