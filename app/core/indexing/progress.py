"""What the indexer tells a person: files done/total, current file, chunks/s, ETA, and totals.

``ProgressMeter`` is written by the index lane and read by any thread (a lock guards the
snapshot). The current file lives only in memory: it is shown, never logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from app.core.indexing.issues import Issue


@dataclass(frozen=True)
class IndexStatus:
    phase: str = "idle"  # idle | reconciling | indexing | paused | waiting
    files_done: int = 0
    files_total: int = 0
    current: str = ""
    chunks: int = 0
    chunks_per_s: float = 0.0
    eta_s: float | None = None
    waiting_for: str = ""  # "paused" | "user request" | "on battery" when phase is paused/waiting

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One human line: ``120/1873 files · 410 chunks · 95.2 chunks/s · ETA 0:42``."""
        parts = [f"{self.files_done}/{self.files_total} files", f"{self.chunks} chunks"]
        if self.chunks_per_s:
            parts.append(f"{self.chunks_per_s:.1f} chunks/s")
        if self.eta_s is not None:
            minutes, seconds = divmod(int(self.eta_s), 60)
            parts.append(f"ETA {minutes}:{seconds:02d}")
        if self.waiting_for:
            parts.append(self.waiting_for)
        return " · ".join(parts)


@dataclass
class IndexReport:
    """Counts of one ``index_once`` (or of a drain), with this run's skipped/failed files."""

    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0
    moved: int = 0
    chunks: int = 0
    reembedded: int = 0  # chunks embedded again for a new embedding model (index_once)
    elapsed_s: float = 0.0
    unavailable: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def add(self, other: IndexReport) -> None:
        for name in ("indexed", "unchanged", "skipped", "failed", "removed", "moved", "chunks"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.issues.extend(other.issues)


class ProgressMeter:
    """Throughput and ETA over the files and chunks of the current run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = IndexStatus()
        self._started = 0.0
        self._busy_s = 0.0
        self._live: tuple[int, str, int] = (0, "", 0)

    def begin(self, total: int) -> None:
        with self._lock:
            self._status = IndexStatus(phase="indexing", files_total=total)
            self._started = time.monotonic()
            self._busy_s = 0.0

    def grow(self, total: int) -> None:
        with self._lock:
            self._status = replace(self._status, files_total=max(total, self._status.files_done))

    def phase(self, phase: str, waiting_for: str = "") -> None:
        with self._lock:
            self._status = replace(self._status, phase=phase, waiting_for=waiting_for)

    def advance(self, files: int, chunks: int, current: str, busy_s: float) -> IndexStatus:
        with self._lock:
            s = self._status
            done = s.files_done + files
            total = max(s.files_total, done)
            self._busy_s += busy_s
            elapsed = max(time.monotonic() - self._started, 1e-9)
            chunk_count = s.chunks + chunks
            rate = done / elapsed
            eta = (total - done) / rate if rate > 0 and done else None
            self._live = (0, "", 0)
            self._status = replace(
                s, phase="indexing", files_done=done, files_total=total, current=current,
                chunks=chunk_count, chunks_per_s=round(chunk_count / elapsed, 1), eta_s=eta,
                waiting_for="",
            )
            return self._status

    def live(self, files_in_batch: int, current: str, chunks_in_batch: int = 0) -> None:
        """Files written and chunks embedded so far inside the running batch (not yet counted
        by ``advance``), so progress moves while a large batch is embedded."""
        with self._lock:
            self._live = (files_in_batch, current, chunks_in_batch)

    def snapshot(self) -> IndexStatus:
        with self._lock:
            extra, current, chunks = self._live
            if not extra and not current and not chunks:
                return self._status
            done = self._status.files_done + extra
            chunk_count = self._status.chunks + chunks
            elapsed = max(time.monotonic() - self._started, 1e-9)
            total = max(self._status.files_total, done)
            rate = (round(chunk_count / elapsed, 1) if self._started and chunks
                    else self._status.chunks_per_s)
            eta = ((total - done) * elapsed / done if self._started and done
                   else self._status.eta_s)
            return replace(self._status, files_done=done, current=current or self._status.current,
                           files_total=total, chunks=chunk_count, chunks_per_s=rate, eta_s=eta)
