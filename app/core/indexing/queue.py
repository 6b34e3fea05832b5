"""The persistent job queue of the indexer, in store.db (``index_jobs``).

Three kinds of job, each one a statement about the disk to act on when processed, not an
instruction recorded at event time, so that replaying a job after a crash is harmless:

- ``sync PATH``: make the index agree with the file at PATH (index, re-index, or drop it).
- ``scan DIR``: reconcile the subtree DIR with the catalog (new, changed, gone, moved).
- ``move SRC DEST``: SRC was renamed to DEST; move its rows (no re-embedding), then sync both.

At most one ``sync``/``scan`` per path is pending: pushing it again moves it to the end of the
queue. Moves keep their order. Jobs are deleted only after their work is committed, so a kill
at any point leaves them to be done again, idempotently (the Ingestor checks content hashes).

Small writes: the watcher thread pushes, the index lane takes and deletes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.memory.paths import key_to_path, path_to_key
from app.core.profile.store import Store

MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Job:
    kind: str  # "sync" | "scan" | "move"
    path: Path
    folder_id: int
    dest: Path | None = None
    force: bool = False  # sync: re-check by content even when size and mtime agree
    id: int = 0
    attempts: int = 0


class JobQueue:
    def __init__(self, store: Store):
        self.store = store

    def push(self, jobs: Iterable[Job]) -> int:
        """Enqueue jobs in one transaction; returns how many were written. A sync/scan already
        pending for the same path is replaced by a new row at the end (keeping ``force``)."""
        now = time.time()
        rows = []
        for job in jobs:
            src = path_to_key(job.path)
            dest = path_to_key(job.dest) if job.dest is not None else None
            rows.append((job.kind, src, dest, job.folder_id, int(job.force), job.kind, src, now))
        if not rows:
            return 0
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO index_jobs "
                "(kind, path, dest, folder_id, force, enqueued_at) VALUES (?, ?, ?, ?, "
                "? OR coalesce((SELECT force FROM index_jobs WHERE kind = ? AND path = ? "
                "AND kind != 'move'), 0), ?)",
                rows,
            )
        return len(rows)

    def take(self, limit: int) -> list[Job]:
        """The oldest ``limit`` jobs, still in the queue until ``done``."""
        rows = self.store.conn.execute(
            "SELECT id, kind, path, dest, folder_id, force, attempts FROM index_jobs "
            "ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            Job(kind=r[1], path=key_to_path(r[2]), folder_id=int(r[4]),
                dest=key_to_path(r[3]) if r[3] is not None else None, force=bool(r[5]),
                id=int(r[0]), attempts=int(r[6]))
            for r in rows
        ]

    def done(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        with self.store.transaction() as conn:
            conn.executemany("DELETE FROM index_jobs WHERE id = ?", [(j.id,) for j in jobs])

    def retry_later(self, job: Job) -> bool:
        """Count a failed attempt; False (and the job dropped) after MAX_ATTEMPTS."""
        with self.store.transaction() as conn:
            if job.attempts + 1 >= MAX_ATTEMPTS:
                conn.execute("DELETE FROM index_jobs WHERE id = ?", (job.id,))
                return False
            conn.execute("UPDATE index_jobs SET attempts = attempts + 1 WHERE id = ?", (job.id,))
            return True

    def pending(self, kind: str | None = None) -> int:
        if kind is None:
            row = self.store.conn.execute("SELECT count(*) FROM index_jobs").fetchone()
        else:
            row = self.store.conn.execute(
                "SELECT count(*) FROM index_jobs WHERE kind = ?", (kind,)).fetchone()
        return int(row[0])
