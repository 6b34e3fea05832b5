"""Models the user imported by reference: their paths are personal, so they live here.

Downloaded and copied models sit in the models folder (not personal, not encrypted) with a
plaintext manifest of public facts (repo, sha256); only a GGUF left where the user keeps it is
recorded in the store, with the hash it had when imported.
"""

from __future__ import annotations

from typing import Any

from app.core.profile.migrations import run_script


def up(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE engine_model_refs (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            architecture TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            added_at REAL NOT NULL
        );
        """,
    )
