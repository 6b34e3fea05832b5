"""install.sh / uninstall.sh on a minimal bundle layout (the real bundle is exercised by
test_bundle_smoke.py after `make package`): files land in the XDG places, the installed menu
entry points at the installed program and validates, uninstall removes all of it and keeps
the user's data unless asked."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from app.core import icons
from tests.fixtures.desktop_entry import parse, run_tool

ROOT = Path(__file__).resolve().parents[2]


def make_bundle(root: Path) -> Path:
    bundle = root / "bundle"
    internal = bundle / "_internal"
    shutil.copytree(ROOT / "packaging" / "linux", internal / "packaging" / "linux")
    shutil.copytree(icons.ICONS_DIR, internal / "assets" / "icons")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(ROOT / "packaging" / "linux" / script, bundle / script)
    exe = bundle / "familiar"  # stands in for the PyInstaller executable
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return bundle


def run(script: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    return subprocess.run(["sh", str(script), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_install_then_uninstall(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    home = tmp_path / "home"
    prefix = home / ".local"
    result = run(bundle / "install.sh", home=home)
    assert result.returncode == 0, result.stderr
    appdir = prefix / "lib" / "familiar"
    assert (appdir / "familiar").is_file()
    assert (prefix / "bin" / "familiar").resolve() == (appdir / "familiar").resolve()
    for size in icons.APP_SIZES:
        assert (prefix / f"share/icons/hicolor/{size}x{size}/apps/familiar.png").is_file()
    assert (prefix / "share/icons/hicolor/scalable/apps/familiar.svg").is_file()
    assert (prefix / "share/metainfo/io.github.familiar.Familiar.metainfo.xml").is_file()
    desktop = prefix / "share/applications/familiar.desktop"
    entry = parse(desktop)["Desktop Entry"]
    assert entry["Exec"] == f"{appdir}/familiar"
    assert entry["TryExec"] == f"{appdir}/familiar"
    validated = run_tool("desktop-file-validate", str(desktop))
    assert validated.returncode == 0, validated.stdout + validated.stderr

    data = home / ".local/share/Familiar"
    data.mkdir(parents=True)
    (data / "profile.json").write_text("{}")
    autostart_entry = home / ".config/autostart/familiar.desktop"
    autostart_entry.parent.mkdir(parents=True)
    autostart_entry.write_text("[Desktop Entry]\n")
    cache = home / ".cache/Familiar/embedders"
    cache.mkdir(parents=True)
    (cache / "all-MiniLM-L6-v2-0123.onnx").write_bytes(b"onnx")

    result = run(appdir / "uninstall.sh", home=home)
    assert result.returncode == 0, result.stderr
    assert not appdir.exists() and not desktop.exists()
    assert not (prefix / "bin" / "familiar").exists()
    assert not list((prefix / "share/icons").rglob("familiar.*"))
    assert not autostart_entry.exists()
    assert not cache.parent.exists(), "the program's cache goes with the program"
    assert (data / "profile.json").exists(), "uninstall must keep the data unless asked"


def test_uninstall_can_delete_the_data(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    home = tmp_path / "home"
    assert run(bundle / "install.sh", home=home).returncode == 0
    data = home / ".local/share/Familiar"
    logs = home / ".local/state/Familiar/log"
    for folder in (data, logs):
        folder.mkdir(parents=True)
    result = run(home / ".local/lib/familiar/uninstall.sh", "--delete-data", home=home)
    assert result.returncode == 0, result.stderr
    assert not data.exists() and not logs.parent.exists()


def test_install_refuses_a_folder_without_the_program(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    (bundle / "familiar").unlink()
    result = run(bundle / "install.sh", home=tmp_path / "home")
    assert result.returncode != 0
    assert "no familiar executable" in result.stderr
