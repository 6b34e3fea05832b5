"""Settings persisted in store.db (encrypted) as one JSON document."""

from __future__ import annotations

import json

from app.core.config import SETTINGS_VERSION, Settings
from app.core.profile.store import Store


def load_settings(store: Store) -> Settings:
    row = store.conn.execute("SELECT document FROM settings WHERE id = 1").fetchone()
    if row is None:
        return Settings()
    return Settings.from_dict(json.loads(row[0]))


def save_settings(store: Store, settings: Settings) -> None:
    document = json.dumps(settings.to_dict(), sort_keys=True)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO settings (id, version, document) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET version = excluded.version, "
            "document = excluded.document",
            (SETTINGS_VERSION, document),
        )
