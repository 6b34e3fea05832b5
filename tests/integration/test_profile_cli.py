"""The profile commands of the contract, run as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.errors import WrongSecret
from app.core.profile.vault import Vault
from tests.fixtures.profiles import snapshot
from tests.integration.cli import familiar_env, run, run_json


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("familiar ")


def test_init_then_doctor_reports_the_profile(home: Path) -> None:
    code, created = run_json(home, "init", FAMILIAR_PASSPHRASE="x")
    assert code == 0
    assert set(created["slots"]) == {"passphrase", "recovery"}
    assert len(created["recovery_key"].split("-")) == 9
    code, report = run_json(home, "doctor")
    assert code == 0
    assert report["profile"]["exists"] and report["profile"]["profile_id"] == created["profile_id"]
    assert report["sqlcipher_version"]
    assert report["keychain"]["backend"]
    assert report["hardware"]["physical_cores"] >= 1
    assert "missing" in report["packages"]
    assert set(report["display"]) == {"x11", "missing", "install"}


def test_doctor_says_whether_the_window_can_open_on_x11(home: Path) -> None:
    code, report = run_json(home, "doctor", QT_QPA_PLATFORM="offscreen")
    assert code == 0 and report["display"] == {"x11": False, "missing": [], "install": None}
    code, report = run_json(home, "doctor", QT_QPA_PLATFORM="xcb")
    assert code == 0 and report["display"]["x11"] is True
    missing = report["display"]["missing"]  # what this machine lacks (tests/core/test_display.py)
    assert all(".so" in lib for lib in missing)
    assert (report["display"]["install"] is None) == (not missing)


def test_init_refuses_an_existing_profile(home: Path) -> None:
    assert run_json(home, "init", FAMILIAR_PASSPHRASE="x")[0] == 0
    before = snapshot(home)
    code, out = run_json(home, "init", FAMILIAR_PASSPHRASE="y")
    assert code != 0 and "already exists" in out["error"]
    assert snapshot(home) == before


def test_init_without_a_secret_and_without_a_terminal_fails_cleanly(home: Path) -> None:
    out = run(home, "init")
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0 and "error" in out.stderr
    assert not (home / "profile.json").exists()


def test_init_keyring_on_a_machine_without_keychain_falls_back_or_explains(home: Path) -> None:
    code, out = run_json(home, "init", "--keyring", FAMILIAR_PASSPHRASE="x")
    assert code == 0
    assert "passphrase" in out["slots"]  # the fallback the user asked for by giving one


@pytest.mark.parametrize(
    "env",
    [{"FAMILIAR_PASSPHRASE": "wrong"}, {"FAMILIAR_RECOVERY_KEY": "AAAA-" * 8 + "AAAA"}],
    ids=["passphrase", "recovery"],
)
def test_wrong_secret_one_line_error_and_nothing_changes(home: Path, env: dict[str, str]) -> None:
    assert run_json(home, "init", FAMILIAR_PASSPHRASE="right")[0] == 0
    before = snapshot(home)
    out = run(home, "passwd", FAMILIAR_NEW_PASSPHRASE="new", **env)
    assert out.returncode == WrongSecret.exit_code
    assert len(out.stderr.strip().splitlines()) == 1 and "wrong" in out.stderr
    assert snapshot(home) == before


def test_damaged_header_names_the_file(home: Path) -> None:
    assert run_json(home, "init", FAMILIAR_PASSPHRASE="x")[0] == 0
    path = home / "profile.json"
    path.write_bytes(path.read_bytes()[:-30])
    out = run(home, "passwd", FAMILIAR_PASSPHRASE="x", FAMILIAR_NEW_PASSPHRASE="y")
    assert out.returncode != 0 and "profile.json is damaged" in out.stderr
    assert "Traceback" not in out.stderr


def test_passwd_and_recovery(home: Path) -> None:
    _, created = run_json(home, "init", FAMILIAR_PASSPHRASE="old")
    assert run_json(home, "passwd", FAMILIAR_PASSPHRASE="old", FAMILIAR_NEW_PASSPHRASE="new")[0] == 0
    assert run_json(home, "passwd", FAMILIAR_PASSPHRASE="old", FAMILIAR_NEW_PASSPHRASE="x")[0] != 0
    # Forgotten passphrase: the recovery key sets a new one.
    code, _ = run_json(home, "passwd", FAMILIAR_RECOVERY_KEY=created["recovery_key"],
                       FAMILIAR_NEW_PASSPHRASE="newer")
    assert code == 0
    Vault.load(home).unlock_passphrase("newer").lock()


def test_lock_without_a_running_instance(home: Path) -> None:
    run_json(home, "init", FAMILIAR_PASSPHRASE="x")
    code, out = run_json(home, "lock")
    assert code == 0 and out == {"locked": True, "running_instance": False}


def test_killed_passphrase_change_always_leaves_a_working_passphrase(home: Path) -> None:
    """Kill `familiar passwd` at points spread over its whole run: afterwards the old or the
    new passphrase opens the profile, every time, and the data is intact."""
    assert run_json(home, "init", FAMILIAR_PASSPHRASE="old")[0] == 0
    pristine = {p.name: p.read_bytes() for p in home.iterdir() if p.is_file()}
    env = familiar_env(home, FAMILIAR_PASSPHRASE="old", FAMILIAR_NEW_PASSPHRASE="new")
    started = time.monotonic()
    full = subprocess.run([sys.executable, "-m", "app", "passwd"], env=env, capture_output=True)
    duration = time.monotonic() - started
    assert full.returncode == 0
    outcomes = set()
    for i in range(8):
        for name, data in pristine.items():
            (home / name).write_bytes(data)
        proc = subprocess.Popen([sys.executable, "-m", "app", "passwd"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=duration * (i + 1) / 8)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        vault = Vault.load(home)
        opened = []
        for secret in ("old", "new"):
            try:
                vault.unlock_passphrase(secret).lock()
                opened.append(secret)
            except WrongSecret:
                pass
        assert opened, f"neither passphrase opens after a kill at step {i}"
        outcomes.add(tuple(opened))
    assert ("old",) in outcomes  # killed before the change took effect at least once
