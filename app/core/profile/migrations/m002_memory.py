"""The file catalog, chunks (text, location, float32 embedding) and their FTS5 index.

``files`` is shared with indexing (issue 5 adds folders and the job queue in m003; folder_id
has no foreign key here for that reason). Paths are stored as reversible keys
(``app.core.memory.paths``). The FTS table is external-content over ``chunks`` and kept in
step by triggers, so deleting a file row (cascade) removes its FTS rows in the same transaction.
"""

from __future__ import annotations

from typing import Any

from app.core.profile.migrations import run_script


def up(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            path TEXT UNIQUE NOT NULL,
            folder_id INTEGER,
            ext TEXT,
            size INTEGER,
            mtime_ns INTEGER,
            content_hash TEXT,
            indexed_at REAL,
            chunk_count INTEGER NOT NULL DEFAULT 0,
            truncated INTEGER NOT NULL DEFAULT 0,
            embedding_model TEXT
        );
        CREATE INDEX files_folder ON files(folder_id);
        CREATE INDEX files_ext ON files(ext);
        CREATE INDEX files_mtime ON files(mtime_ns);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            chunk_key TEXT NOT NULL,
            ann_id TEXT UNIQUE NOT NULL,
            heading TEXT NOT NULL DEFAULT '',
            page INTEGER,
            line_start INTEGER,
            line_end INTEGER,
            text TEXT NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE INDEX chunks_file ON chunks(file_id, ordinal);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            heading, text, content='chunks', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
        END;
        CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, heading, text)
            VALUES ('delete', old.id, old.heading, old.text);
        END;
        CREATE TRIGGER chunks_fts_update AFTER UPDATE OF heading, text ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, heading, text)
            VALUES ('delete', old.id, old.heading, old.text);
            INSERT INTO chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
        END;
        """,
    )
