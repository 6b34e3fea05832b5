"""The curated model catalog (assets/catalog.json) and what suits this machine.

Each entry names its hub repo and file, size, sha256 (null where no public source could be
checked: the downloader then verifies against the hub's LFS hash and records what it
computed), context length, license and the RAM it needs. ``rate`` labels every entry for this
machine ("fits well" / "will be slow" / "too big for this machine"); ``recommend`` picks one
default: the best-ranked entry that fits well. Pure and cheap: any thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.engine import sizing
from app.core.engine.errors import EngineError

CATALOG_PATH = Path(__file__).resolve().parents[3] / "assets" / "catalog.json"


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    repo: str
    file: str
    revision: str
    size_bytes: int | None
    approx_size_bytes: int
    sha256: str | None
    context_length: int
    license: str
    params_billion: float
    layers: int
    kv_width: int
    ram_needed_mb: int
    rank: int
    note: str = ""

    @property
    def ram_needed_bytes(self) -> int:
        return self.ram_needed_mb * 2**20

    @property
    def download_bytes(self) -> int:
        return self.size_bytes or self.approx_size_bytes


@dataclass(frozen=True)
class Rated:
    entry: CatalogEntry
    label: str
    recommended: bool = False

    def as_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "id": e.id, "name": e.name, "repo": e.repo, "file": e.file, "revision": e.revision,
            "size_bytes": e.size_bytes, "approx_size_bytes": e.approx_size_bytes,
            "sha256": e.sha256, "context_length": e.context_length, "license": e.license,
            "params_billion": e.params_billion, "ram_needed_mb": e.ram_needed_mb,
            "label": self.label, "recommended": self.recommended, "note": e.note,
        }


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    raw = json.loads((path or CATALOG_PATH).read_text(encoding="utf-8"))
    fields = set(CatalogEntry.__dataclass_fields__)
    return [CatalogEntry(**{k: v for k, v in m.items() if k in fields}) for m in raw["models"]]


def find(entry_id: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry:
    entries = entries if entries is not None else load_catalog()
    for entry in entries:
        if entry.id == entry_id:
            return entry
    raise EngineError(f"'{entry_id}' is not in the model catalog; see 'familiar models list' "
                      "for the ids")


def rate(entries: list[CatalogEntry], machine: sizing.Machine) -> list[Rated]:
    """Every entry with its label; exactly one is marked recommended when any can run."""
    labelled = [Rated(e, sizing.label(e.ram_needed_bytes, e.params_billion, machine))
                for e in entries]
    best = recommend(entries, machine)
    return [Rated(r.entry, r.label, best is not None and r.entry.id == best.id)
            for r in labelled]


def recommend(entries: list[CatalogEntry], machine: sizing.Machine) -> CatalogEntry | None:
    """The best-ranked entry that fits well (ties: the smaller); else the smallest that runs."""
    def lab(e: CatalogEntry) -> str:
        return sizing.label(e.ram_needed_bytes, e.params_billion, machine)

    good = [e for e in entries if lab(e) == sizing.FITS_WELL]
    if good:
        return min(good, key=lambda e: (e.rank, e.download_bytes))
    slow = [e for e in entries if lab(e) == sizing.WILL_BE_SLOW]
    return min(slow, key=lambda e: e.download_bytes) if slow else None
