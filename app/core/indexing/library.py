"""The library: the folders a person asked Familiar to watch, with their own excludes.

Rows live in store.db (``folders``); their paths never reach the log. Adding and removing are
small writes that any thread may do on its own connection; removing a folder's indexed data is
the index lane's job (``Indexer.remove_folder``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.config import IndexingSettings
from app.core.errors import FamiliarError
from app.core.indexing.rules import Rules, check_pattern
from app.core.memory.paths import key_to_path, path_to_key
from app.core.profile.store import Store


class FolderError(FamiliarError):
    """A folder that cannot be added or removed as asked."""


@dataclass(frozen=True)
class Folder:
    id: int
    path: Path
    excludes: tuple[str, ...]
    added_at: float
    status: str  # "ok" | "unavailable" (not mounted or gone: its index is kept)
    last_reconciled: float | None

    def available(self) -> bool:
        """Is the folder's root a readable directory right now?"""
        return self.path.is_dir() and os.access(self.path, os.R_OK | os.X_OK)

    def contains(self, path: Path) -> bool:
        return path == self.path or path.is_relative_to(self.path)


def normalize(path: str | Path) -> Path:
    """Absolute, with ``~`` expanded and ``..`` folded, symlinks kept as the user named them."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


class Library:
    """Watched folders of one profile."""

    def __init__(self, store: Store, settings: IndexingSettings):
        self.store = store
        self.settings = settings

    def folders(self) -> list[Folder]:
        rows = self.store.conn.execute(
            "SELECT id, path, excludes, added_at, status, last_reconciled FROM folders ORDER BY id"
        ).fetchall()
        return [_folder(row) for row in rows]

    def get(self, folder_id: int) -> Folder | None:
        row = self.store.conn.execute(
            "SELECT id, path, excludes, added_at, status, last_reconciled FROM folders WHERE id = ?",
            (folder_id,),
        ).fetchone()
        return _folder(row) if row else None

    def find(self, path: str | Path) -> Folder | None:
        wanted = normalize(path)
        return next((f for f in self.folders() if f.path == wanted), None)

    def folder_for(self, path: Path) -> Folder | None:
        """The watched folder that holds ``path`` (folders never nest)."""
        return next((f for f in self.folders() if f.contains(path)), None)

    def add(self, path: str | Path, excludes: Sequence[str] = ()) -> tuple[Folder, bool]:
        """Watch ``path`` (its excludes are merged when it is watched already).
        Returns the folder and whether it is new."""
        folder_path = normalize(path)
        patterns = [check_pattern(p) for p in excludes]
        existing = self.find(folder_path)
        if existing is not None:
            merged = list(existing.excludes) + [p for p in patterns if p not in existing.excludes]
            with self.store.transaction() as conn:
                conn.execute("UPDATE folders SET excludes = ? WHERE id = ?",
                             (json.dumps(merged), existing.id))
            updated = self.get(existing.id)
            assert updated is not None
            return updated, False
        if not folder_path.is_dir():
            raise FolderError(f"not a folder: {folder_path}")
        for other in self.folders():
            if other.contains(folder_path):
                raise FolderError(f"{folder_path} is already watched as part of {other.path}")
            if other.path.is_relative_to(folder_path):
                raise FolderError(
                    f"{folder_path} contains the watched folder {other.path}; remove that one first"
                )
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO folders (path, excludes, added_at, status) VALUES (?, ?, ?, 'ok')",
                (path_to_key(folder_path), json.dumps(patterns), time.time()),
            )
            folder_id = int(cur.lastrowid)
        folder = self.get(folder_id)
        assert folder is not None
        return folder, True

    def forget(self, folder: Folder) -> None:
        """Drop the folder row and its queue and issue rows (its indexed files go first)."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM index_jobs WHERE folder_id = ?", (folder.id,))
            conn.execute("DELETE FROM index_issues WHERE folder_id = ?", (folder.id,))
            conn.execute("DELETE FROM folders WHERE id = ?", (folder.id,))

    def set_status(self, folder: Folder, status: str, reconciled_at: float | None = None) -> None:
        with self.store.transaction() as conn:
            if reconciled_at is None:
                conn.execute("UPDATE folders SET status = ? WHERE id = ?", (status, folder.id))
            else:
                conn.execute("UPDATE folders SET status = ?, last_reconciled = ? WHERE id = ?",
                             (status, reconciled_at, folder.id))

    def rules(self, folder: Folder) -> Rules:
        return Rules.for_folder(self.settings.global_excludes, folder.excludes,
                                self.settings.respect_gitignore)


def _folder(row: tuple[int, str, str, float, str, float | None]) -> Folder:
    return Folder(int(row[0]), key_to_path(row[1]), tuple(json.loads(row[2])), float(row[3]),
                  str(row[4]), row[5])
