"""The Linux desktop integration files: the menu entry and the autostart template validate,
the AppStream metadata validates, and they agree with each other and with the app."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app import __version__
from app.core import autostart, icons
from tests.fixtures.desktop_entry import parse, run_tool

LINUX = Path(__file__).resolve().parents[2] / "packaging" / "linux"
DESKTOP = LINUX / "familiar.desktop"
AUTOSTART = LINUX / "familiar-autostart.desktop"
METAINFO = LINUX / f"{autostart.APP_ID}.metainfo.xml"


@pytest.mark.parametrize("path", [DESKTOP, AUTOSTART], ids=lambda p: p.name)
def test_desktop_files_validate(path: Path) -> None:
    result = run_tool("desktop-file-validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout + result.stderr


def test_metainfo_validates() -> None:
    result = run_tool("appstreamcli", "validate", "--no-net", str(METAINFO))
    assert result.returncode == 0, result.stdout + result.stderr


def test_menu_entry_contents() -> None:
    entry = parse(DESKTOP)
    main = entry["Desktop Entry"]
    assert main["Exec"] == "familiar"
    assert main["Icon"] == "familiar" and icons.app_icon_svg().stem == "familiar"
    assert main["StartupWMClass"] == "familiar"  # QGuiApplication.setDesktopFileName("familiar")
    assert main["Actions"].rstrip(";") == "QuickAsk"
    assert entry["Desktop Action QuickAsk"]["Exec"] == "familiar quick-ask"


def test_metainfo_agrees_with_the_app_and_the_menu_entry() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == autostart.APP_ID
    assert root.findtext("launchable") == DESKTOP.name
    assert root.find("content_rating") is not None
    versions = [r.get("version") for r in root.iter("release")]
    assert versions and versions[0] == __version__, "add a <release> for the new version"


def test_autostart_template_matches_what_the_app_writes(tmp_path: Path) -> None:
    """Packagers ship the template; the app writes its own with an absolute Exec path. Apart
    from Exec and the comment they must say the same."""
    item = autostart.XdgAutostart(tmp_path)
    item.enable(["/opt/familiar/familiar"])
    written = parse(Path(item.location))["Desktop Entry"]
    template = parse(AUTOSTART)["Desktop Entry"]
    for entry in (written, template):
        entry.pop("Exec")
        entry.pop("Comment")
    assert written == template
