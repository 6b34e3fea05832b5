"""Settings document and a key/value table for small facts the app keeps about itself."""

from __future__ import annotations

from typing import Any

from app.core.profile.migrations import run_script


def up(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            document TEXT NOT NULL
        );
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )
