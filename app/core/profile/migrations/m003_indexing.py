"""Background indexing: watched folders, the persistent job queue, the skipped/failed list.

Paths are stored as path keys (``path_to_key``), inside the encrypted store only. The queue
holds at most one pending ``sync`` or ``scan`` job per path (a partial unique index); moves
are kept in order because each one carries its own source and destination.
"""

from __future__ import annotations

from typing import Any

from app.core.profile.migrations import run_script


def up(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            path TEXT UNIQUE NOT NULL,
            excludes TEXT NOT NULL DEFAULT '[]',
            added_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'ok',
            last_reconciled REAL
        );
        CREATE TABLE index_jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('sync', 'scan', 'move')),
            path TEXT NOT NULL,
            dest TEXT,
            folder_id INTEGER NOT NULL,
            force INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            enqueued_at REAL NOT NULL
        );
        CREATE UNIQUE INDEX index_jobs_one_per_path ON index_jobs (kind, path)
            WHERE kind != 'move';
        CREATE TABLE index_issues (
            path TEXT PRIMARY KEY,
            folder_id INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('skipped', 'failed')),
            reason TEXT NOT NULL,
            size INTEGER,
            mtime_ns INTEGER,
            at REAL NOT NULL
        );
        CREATE INDEX index_issues_folder ON index_issues (folder_id);
        """,
    )
