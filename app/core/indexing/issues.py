"""Files that were skipped or failed, with a reason a person can read (``index_issues``).

Kept in the store so the GUI and ``familiar index --json`` can show them later. The size and
mtime at the time are kept too: an unchanged file is not retried at every reconcile.
Written by the index lane; read by anyone.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.core.memory.paths import key_to_path, path_to_key
from app.core.profile.store import Store


@dataclass(frozen=True)
class Issue:
    path: Path
    folder_id: int
    status: str  # "skipped" | "failed"
    reason: str
    size: int | None = None
    mtime_ns: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "status": self.status, "reason": self.reason}


class IssueList:
    def __init__(self, store: Store):
        self.store = store

    def record(self, conn: object, issues: Iterable[Issue]) -> None:
        """Upsert inside the caller's transaction (``conn`` from ``Store.transaction``)."""
        now = time.time()
        conn.executemany(  # type: ignore[attr-defined]
            "INSERT INTO index_issues (path, folder_id, status, reason, size, mtime_ns, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "folder_id = excluded.folder_id, status = excluded.status, reason = excluded.reason, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, at = excluded.at",
            [(path_to_key(i.path), i.folder_id, i.status, i.reason, i.size, i.mtime_ns, now)
             for i in issues],
        )

    def clear(self, conn: object, paths: Iterable[Path]) -> None:
        conn.executemany(  # type: ignore[attr-defined]
            "DELETE FROM index_issues WHERE path = ?", [(path_to_key(p),) for p in paths])

    def all(self, folder_id: int | None = None) -> list[Issue]:
        sql = "SELECT path, folder_id, status, reason, size, mtime_ns FROM index_issues"
        args: tuple[int, ...] = ()
        if folder_id is not None:
            sql += " WHERE folder_id = ?"
            args = (folder_id,)
        rows = self.store.conn.execute(sql + " ORDER BY path", args).fetchall()
        return [Issue(key_to_path(r[0]), int(r[1]), str(r[2]), str(r[3]), r[4], r[5])
                for r in rows]

    def stamps(self, folder_id: int) -> dict[str, tuple[int | None, int | None]]:
        """path key -> (size, mtime_ns) when the issue was recorded."""
        rows = self.store.conn.execute(
            "SELECT path, size, mtime_ns FROM index_issues WHERE folder_id = ?", (folder_id,)
        ).fetchall()
        return {str(r[0]): (r[1], r[2]) for r in rows}
