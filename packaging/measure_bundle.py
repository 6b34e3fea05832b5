"""Size and start-up figures of a built bundle (printed by `make package`; docs/packaging.md).

    .venv/bin/python packaging/measure_bundle.py dist/familiar [--drop-caches] [--json]

Times the bundle's executable from a fresh, empty profile folder: ``--version``, ``doctor
--json``, and the GUI (offscreen) from launch until its instance socket answers. The first run
of each is reported separately from the median of the following ``--repeat`` runs: the first
pays for reading the files from disk unless the page cache already holds them.
``--drop-caches`` (root, Linux) empties the page cache first, for a true cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.core.instance import request_running_instance  # noqa: E402

GUI_LIMIT_S = 300.0


def folder_size(folder: Path) -> tuple[int, int]:
    total = count = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            count += 1
    return total, count


def largest_parts(internal: Path, top: int = 8) -> dict[str, float]:
    sizes = {}
    for child in internal.iterdir():
        size = folder_size(child)[0] if child.is_dir() else child.stat().st_size
        sizes[child.name] = round(size / 2**20, 1)
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:top])


def environment(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home.parent), "FAMILIAR_HOME": str(home),
            "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1", "LANG": "C.UTF-8",
            "TMPDIR": tempfile.gettempdir()}


def time_command(exe: Path, *args: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "profile"
        start = time.perf_counter()
        subprocess.run([str(exe), *args], env=environment(home), cwd=tmp, check=True,
                       capture_output=True)
        return time.perf_counter() - start


def time_gui(exe: Path) -> float:
    """Launch until the instance socket answers ``activate``; then ask it to quit."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "profile"
        start = time.perf_counter()
        proc = subprocess.Popen([str(exe)], env=environment(home), cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not request_running_instance(home, "activate"):
                try:
                    proc.wait(timeout=0.05)
                    raise SystemExit(f"the GUI exited early with {proc.returncode}")
                except subprocess.TimeoutExpired:
                    if time.perf_counter() - start > GUI_LIMIT_S:
                        raise SystemExit("the GUI did not come up") from None
            up = time.perf_counter() - start
            request_running_instance(home, "quit")
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return up


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def measure(exe: Path, repeat: int, cold: bool) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    probes = {"version": lambda: time_command(exe, "--version"),
              "doctor": lambda: time_command(exe, "doctor", "--json"),
              "gui_up": lambda: time_gui(exe)}
    for name, probe in probes.items():
        if cold:
            drop_caches()
        first = probe()
        rest = [probe() for _ in range(repeat)]
        out[name] = {"first_s": round(first, 2), "median_s": round(statistics.median(rest), 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the page cache before each first run (root, Linux)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    bundle: Path = args.bundle.resolve()
    exe = bundle / ("familiar.exe" if os.name == "nt" else "familiar")
    if not exe.is_file():
        raise SystemExit(f"no executable at {exe}: run `make package`")
    size, files = folder_size(bundle)
    report = {
        "bundle": str(bundle),
        "bundle_mb": round(size / 2**20, 1),
        "files": files,
        "largest_mb": largest_parts(bundle / "_internal"),
        "start": measure(exe, args.repeat, args.drop_caches),
        "cold": bool(args.drop_caches),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"bundle {report['bundle_mb']} MB in {files} files ({bundle})")
        print("largest: " + ", ".join(f"{k} {v} MB" for k, v in report["largest_mb"].items()))
        for name, figures in report["start"].items():
            print(f"{name:8} first {figures['first_s']:.2f} s, then median {figures['median_s']:.2f} s"
                  + (" (page cache dropped before the first)" if args.drop_caches else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
