"""Small JSON values of the personalization worker kept in the encrypted store: cursors, the
reranker's weights, the last results shown by ``familiar memory list --json``.

Any thread may call these (each thread has its own store connection)."""

from __future__ import annotations

import json
from typing import Any

from app.core.profile.store import Store


class PersonalState:
    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str, default: Any = None) -> Any:
        row = self.store.conn.execute(
            "SELECT value FROM personal_state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set(self, key: str, value: Any) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO personal_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def delete(self, key: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM personal_state WHERE key = ?", (key,))
