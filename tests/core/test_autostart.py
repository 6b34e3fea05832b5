"""The login item writers: XDG autostart entry, macOS LaunchAgent, Windows Run key (through a
fake key here; the real ``winreg`` path only runs on Windows)."""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path

import pytest

from app.core import autostart
from app.core.autostart import LaunchAgent, WindowsRunKey, XdgAutostart
from tests.fixtures.desktop_entry import parse, run_tool, split_exec
from tests.fixtures.registry import FakeRegistryKey

AWKWARD = ["/opt/My Apps/fa$mi`li\"ar\\bin/familiar", "--flag=100%", "it's & <x>"]


def test_xdg_entry_round_trips_an_awkward_command(tmp_path: Path) -> None:
    item = XdgAutostart(tmp_path / "config")
    item.enable(AWKWARD)
    path = tmp_path / "config" / "autostart" / "familiar.desktop"
    assert item.location == str(path)
    entry = parse(path)["Desktop Entry"]
    assert split_exec(entry["Exec"]) == AWKWARD
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Type"] == "Application"
    assert item.is_enabled()


def test_xdg_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    item = XdgAutostart(tmp_path)
    item.enable(AWKWARD)
    result = run_tool("desktop-file-validate", item.location)
    assert result.returncode == 0, result.stdout + result.stderr


def test_xdg_disable_is_idempotent_and_respects_a_user_disabled_entry(tmp_path: Path) -> None:
    item = XdgAutostart(tmp_path)
    assert not item.is_enabled()
    assert item.disable() is False
    item.enable(["/usr/bin/familiar"])
    item.enable(["/usr/bin/familiar"])  # twice: still one file, no temp left behind
    assert sorted(p.name for p in (tmp_path / "autostart").iterdir()) == ["familiar.desktop"]
    # A desktop's own "startup applications" tool may switch it off in place.
    path = Path(item.location)
    path.write_text(path.read_text().replace("enabled=true", "enabled=false"))
    assert not item.is_enabled()
    assert item.disable() is True
    assert not path.exists()


def test_xdg_location_follows_xdg_config_home_then_home() -> None:
    assert XdgAutostart.for_user({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}).location == (
        "/x/cfg/autostart/familiar.desktop")
    assert XdgAutostart.for_user({"HOME": "/h"}).location == "/h/.config/autostart/familiar.desktop"


def test_launch_agent_plist(tmp_path: Path) -> None:
    item = LaunchAgent(tmp_path)
    command = ["/Applications/Familiar & Co.app/Contents/MacOS/familiar-gui"]
    item.enable(command)
    path = tmp_path / "Library" / "LaunchAgents" / "io.github.familiar.Familiar.plist"
    with path.open("rb") as fh:
        agent = plistlib.load(fh)
    assert agent["Label"] == autostart.APP_ID
    assert agent["ProgramArguments"] == command
    assert agent["RunAtLoad"] is True
    assert item.is_enabled()
    assert item.disable() is True
    assert not item.is_enabled()
    assert item.disable() is False


def test_windows_run_key_quotes_paths_with_spaces() -> None:
    key = FakeRegistryKey()
    item = WindowsRunKey(key)
    item.enable([r"C:\Program Files\Familiar\familiar-gui.exe"])
    assert key.values == {"Familiar": r'"C:\Program Files\Familiar\familiar-gui.exe"'}
    assert item.is_enabled()
    assert item.disable() is True
    assert not item.is_enabled()
    assert item.disable() is False


def test_real_registry_is_refused_off_windows() -> None:
    if sys.platform == "win32":
        pytest.skip("this checks the non-Windows guard")
    with pytest.raises(OSError):
        autostart.WinRegistryRun().get("Familiar")


def test_launch_command_points_at_this_installation() -> None:
    command = autostart.launch_command()
    assert Path(command[0]).exists(), command
    if command[0] != sys.executable:
        assert Path(command[0]).name.startswith("familiar")


def test_set_start_at_login_writes_the_launch_command(tmp_path: Path) -> None:
    item = XdgAutostart(tmp_path)
    assert autostart.set_start_at_login(True, item) == item.location
    entry = parse(Path(item.location))["Desktop Entry"]
    assert split_exec(entry["Exec"]) == autostart.launch_command()
    assert autostart.start_at_login_enabled(item)
    autostart.set_start_at_login(False, item)
    assert not autostart.start_at_login_enabled(item)


@pytest.mark.parametrize("platform,kind", [("linux", XdgAutostart), ("darwin", LaunchAgent),
                                           ("win32", WindowsRunKey)])
def test_login_item_per_platform(platform: str, kind: type) -> None:
    assert isinstance(autostart.login_item(platform), kind)
