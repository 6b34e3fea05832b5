"""Single instance across processes: a running app (real ``python -m app``, offscreen, at its
unlock dialog) receives a second launch, ``familiar quick-ask`` and ``familiar lock`` over its
QLocalServer; after it dies, its stale socket is replaced by the next instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.core.instance import instance_address, request_running_instance
from app.ui.instance_server import InstanceServer
from tests.integration.cli import familiar_env, run, run_json


def test_second_launch_and_quick_ask_reach_the_running_instance(
        qtbot: Any, created: tuple[Path, str]) -> None:
    home, _code = created
    address = instance_address(home)
    first = subprocess.Popen([sys.executable, "-m", "app"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=familiar_env(home, QT_QPA_PLATFORM="offscreen"))
    try:
        qtbot.waitUntil(lambda: os.path.exists(address) or first.poll() is not None,
                        timeout=60000)
        assert first.poll() is None, first.stderr.read().decode()[-2000:] if first.stderr else ""
        code, out = run_json(home, "quick-ask")
        assert code == 0 and out == {"running_instance": True, "started": False}
        second = run(home, timeout=120, QT_QPA_PLATFORM="offscreen")  # a second GUI launch
        assert second.returncode == 0  # handed off ("activate") and exited
        code, out = run_json(home, "lock")
        assert code == 0 and out["running_instance"] is True
        assert first.poll() is None  # the first instance is still the one running
        log = (home / "logs" / "familiar.log").read_text(encoding="utf-8")
        for command in ("quick-ask", "activate", "lock"):
            assert f"instance command: {command}" in log
    finally:
        first.terminate()
        first.wait(timeout=30)
    # Killed without cleanup: the socket file may stay, but nobody answers on it.
    assert not request_running_instance(home, "activate")
    server = InstanceServer(home)
    assert server.listen()  # the stale socket is removed and replaced
    server.close()
