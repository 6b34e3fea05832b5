"""``quit`` over the instance socket: a real ``python -m app`` (offscreen, at onboarding)
answers, closes its session and exits with code 0. The bundle's smoke test relies on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from app.core.instance import request_running_instance
from tests.integration.cli import familiar_env


def test_quit_request_ends_the_app_cleanly(qtbot: Any, tmp_path: Path) -> None:
    home = tmp_path / "profile"
    app = subprocess.Popen([sys.executable, "-m", "app"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=familiar_env(home, QT_QPA_PLATFORM="offscreen"))
    try:
        qtbot.waitUntil(lambda: app.poll() is not None
                        or request_running_instance(home, "activate"), timeout=60000)
        assert app.poll() is None, app.stderr.read().decode()[-2000:] if app.stderr else ""
        assert request_running_instance(home, "quit")
        assert app.wait(timeout=60) == 0
        assert not request_running_instance(home, "activate")
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
