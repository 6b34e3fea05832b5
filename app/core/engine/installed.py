"""Models on this machine: downloaded or copied into the models folder, or referenced in place.

The models folder (``app.core.paths.models_dir``) holds public weights and ``manifest.json``,
public facts about each file (source repo, commit, sha256, how it was verified). A model the
user keeps elsewhere can be referenced instead of copied: its path is personal, so it is stored
in store.db (``ModelRefs``, table from migration m006), never in the manifest. Imports validate
the GGUF first, hash while copying, and place atomically. Runs on the ``io`` lane or the CLI
thread; the store is written with small rows only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core import hardware
from app.core.engine import downloads
from app.core.engine.catalog import CatalogEntry, load_catalog
from app.core.engine.errors import DownloadCancelled, EngineError, NotEnoughDisk
from app.core.engine.gguf_check import GgufInfo, require_model
from app.core.tasks import TaskState

MANIFEST = "manifest.json"
_COPY_CHUNK = 4 << 20


def read_manifest(models_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((models_dir / MANIFEST).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(models_dir: Path, filename: str, facts: dict[str, Any]) -> None:
    """Add or replace one file's entry in the manifest (atomic rewrite)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(models_dir)
    manifest[filename] = facts
    tmp = models_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, models_dir / MANIFEST)


def local_models(models_dir: Path) -> list[dict[str, Any]]:
    """GGUF files in the models folder (complete ones only: parts live in .partial/)."""
    manifest = read_manifest(models_dir)
    out = []
    for path in sorted(models_dir.glob("*.gguf")) if models_dir.is_dir() else []:
        facts = manifest.get(path.name, {})
        out.append({"file": path.name, "path": str(path), "size_bytes": path.stat().st_size,
                    "sha256": facts.get("sha256"), "source": facts.get("source", "unknown"),
                    "catalog_id": facts.get("catalog_id")})
    return out


def download_entry(entry: CatalogEntry, models_dir: Path, *, state: TaskState | None = None,
                   on_progress: Any = None) -> downloads.DownloadResult:
    """Download a catalog model into the models folder and record it in the manifest."""
    result = downloads.download(entry.repo, entry.file, models_dir, revision=entry.revision,
                                expected_sha256=entry.sha256, expected_size=entry.size_bytes,
                                state=state, on_progress=on_progress)
    record(models_dir, entry.file, {
        "source": "download", "catalog_id": entry.id, "repo": entry.repo,
        "commit": result.commit, "sha256": result.sha256, "size_bytes": result.size_bytes,
        "verified_against": result.verified_against, "added_at": time.time(),
    })
    return result


@dataclass(frozen=True)
class Imported:
    path: Path
    info: GgufInfo
    sha256: str
    copied: bool


def import_copy(src: Path, models_dir: Path, *, state: TaskState | None = None) -> Imported:
    """Validate ``src`` and copy it into the models folder (hashing on the way)."""
    state = state if state is not None else TaskState()
    info = require_model(src)
    final = models_dir / src.name
    if final.exists():
        raise EngineError(f"a model named '{src.name}' is already in the models folder; "
                          "rename the file or remove the old one first")
    models_dir.mkdir(parents=True, exist_ok=True)
    free = hardware.free_disk_bytes(models_dir)
    if info.size_bytes + downloads.DISK_MARGIN_BYTES > free:
        raise NotEnoughDisk(f"copying '{src.name}' needs {info.size_bytes / 2**30:.2f} GB but "
                            f"only {free / 2**30:.2f} GB is free; free some space or import it "
                            "by reference (--reference)")
    partial = models_dir / ".partial"
    partial.mkdir(exist_ok=True)
    part = partial / f"{src.name}.import"
    hasher = hashlib.sha256()
    done = 0
    try:
        with src.open("rb") as fin, part.open("wb") as fout:
            for block in iter(lambda: fin.read(_COPY_CHUNK), b""):
                if state.cancelled:
                    raise DownloadCancelled(f"the import of '{src.name}' was cancelled; "
                                            "nothing was added")
                fout.write(block)
                hasher.update(block)
                done += len(block)
                state.set_progress(done, info.size_bytes, "copying")
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    digest = hasher.hexdigest()
    record(models_dir, src.name, {"source": "import-copy", "sha256": digest,
                                  "size_bytes": info.size_bytes, "added_at": time.time()})
    return Imported(final, info, digest, copied=True)


def file_sha256(path: Path, state: TaskState | None = None) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_COPY_CHUNK), b""):
            if state is not None:
                state.raise_if_cancelled()
            hasher.update(block)
    return hasher.hexdigest()


class ModelRefs:
    """Models imported by reference (path kept where the user has it), in store.db."""

    def __init__(self, store: Any):
        self._store = store

    def add(self, path: Path, info: GgufInfo, sha256: str) -> int:
        with self._store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO engine_model_refs (path, name, architecture, size_bytes, sha256, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "name=excluded.name, architecture=excluded.architecture, "
                "size_bytes=excluded.size_bytes, sha256=excluded.sha256 RETURNING id",
                (str(path), info.name, info.architecture, info.size_bytes, sha256, time.time()))
            return int(cur.fetchone()[0])

    def list(self) -> list[dict[str, Any]]:
        rows = self._store.conn.execute(
            "SELECT id, path, name, architecture, size_bytes, sha256 FROM engine_model_refs "
            "ORDER BY id").fetchall()
        return [{"id": r[0], "path": r[1], "name": r[2], "architecture": r[3],
                 "size_bytes": r[4], "sha256": r[5], "source": "reference",
                 "present": Path(r[1]).is_file()} for r in rows]

    def remove(self, ref_id: int) -> bool:
        with self._store.transaction() as conn:
            deleted = conn.execute("DELETE FROM engine_model_refs WHERE id = ?", (ref_id,))
            return bool(deleted.rowcount > 0)


def resolve_model(spec: str, models_dir: Path) -> Path | None:
    """A model path from a setting: an existing file, a file in the models folder, or a
    catalog id that has been downloaded. None when nothing matches."""
    if not spec:
        return None
    direct = Path(spec).expanduser()
    if direct.is_file():
        return direct
    local = models_dir / spec
    if local.is_file():
        return local
    for entry in load_catalog():
        if entry.id == spec and (models_dir / entry.file).is_file():
            return models_dir / entry.file
    return None

