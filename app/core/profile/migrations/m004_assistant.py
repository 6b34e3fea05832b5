"""Conversations, messages (with their sources), full-text search over them, and feedback."""

from __future__ import annotations

from typing import Any

from app.core.profile.migrations import run_script


def up(conn: Any) -> None:
    run_script(
        conn,
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            title_auto INTEGER NOT NULL DEFAULT 1,
            created REAL NOT NULL,
            updated REAL NOT NULL
        );
        CREATE INDEX conversations_updated ON conversations(updated DESC);
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            text TEXT NOT NULL,
            created REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete',
            citations TEXT NOT NULL DEFAULT '[]',
            feedback INTEGER NOT NULL DEFAULT 0,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, id);
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            text, content='messages', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TABLE source_feedback (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            chunk_id INTEGER,
            path TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL CHECK (kind IN ('opened', 'not_relevant', 'relevant')),
            created REAL NOT NULL
        );
        CREATE INDEX source_feedback_message ON source_feedback(message_id);
        """,
    )
