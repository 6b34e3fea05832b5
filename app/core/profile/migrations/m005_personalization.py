"""Long-term memories, their evidence and tombstones, the feedback reranker's examples and the
personalization worker's state (all in the encrypted store)."""

from __future__ import annotations

from typing import Any

from app.core.profile.migrations import run_script


def up(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE memories (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'fact',
            confidence REAL NOT NULL DEFAULT 0.5,
            mentions INTEGER NOT NULL DEFAULT 1,
            recalls INTEGER NOT NULL DEFAULT 0,
            edited INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            embedding BLOB
        );
        CREATE TABLE memory_evidence (
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            message_id INTEGER NOT NULL,
            PRIMARY KEY (memory_id, message_id)
        );
        CREATE INDEX memory_evidence_message ON memory_evidence(message_id);
        CREATE TABLE memory_tombstones (
            message_id INTEGER PRIMARY KEY,
            created REAL NOT NULL
        );
        CREATE TABLE ranker_examples (
            message_id INTEGER NOT NULL,
            chunk_id INTEGER NOT NULL,
            features TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (message_id, chunk_id)
        );
        CREATE TABLE personal_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )
