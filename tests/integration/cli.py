"""Run the real ``familiar`` CLI in a subprocess, as a user or a script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def familiar_env(home: Path, **extra: str) -> dict[str, str]:
    # The run's shared cache (tests/conftest.py) stays: it is not profile data, and each
    # subprocess would otherwise export the embedding model again.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FAMILIAR_") or k == "FAMILIAR_CACHE_DIR"}
    env.update(FAMILIAR_HOME=str(home), HF_HUB_OFFLINE="1", **extra)
    return env


def run(home: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=familiar_env(home, **env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def run_json(home: Path, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    out = run(home, *args, "--json", **env)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got {out.stdout!r} / {out.stderr[-500:]!r}"
    return out.returncode, json.loads(lines[0])
