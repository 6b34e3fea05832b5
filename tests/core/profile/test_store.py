"""store.db: SQLCipher really in use, WAL + FULL sync, migrations, nothing readable on disk."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ProfileError
from app.core.profile import migrations
from app.core.profile.store import Store, cipher_version
from app.core.profile.vault import UnlockedProfile
from tests.fixtures.canary import scan, text_patterns, vector_patterns

CANARY_TEXT = "zebra-canary-7f3a quartz marmalade"
CANARY_VECTOR = np.random.default_rng(7).standard_normal(384).astype(np.float32)


def test_sqlcipher_is_in_use(unlocked: UnlockedProfile) -> None:
    assert cipher_version()
    conn = unlocked.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.available()[-1][0]
    header = (unlocked.home / "store.db").read_bytes()[:16]
    assert header != b"SQLite format 3\x00"
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(unlocked.home / "store.db").execute("SELECT * FROM sqlite_master").fetchall()


def test_plain_sqlite_driver_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.profile.store as store_mod

    monkeypatch.setattr(store_mod.sqlcipher3, "connect", sqlite3.connect)
    with pytest.raises(ProfileError, match="not SQLCipher"):
        Store(tmp_path / "plain.db", b"k" * 32)


def test_connections_per_thread(unlocked: UnlockedProfile) -> None:
    store = unlocked.store
    with store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
    seen: list[object] = []

    def reader() -> None:
        seen.append(store.conn.execute("SELECT value FROM meta WHERE key='a'").fetchone()[0])
        seen.append(store.conn)

    t = threading.Thread(target=reader)
    t.start()
    t.join()
    assert seen[0] == "1" and seen[1] is not store.conn


def test_rollback_on_error(unlocked: UnlockedProfile) -> None:
    with pytest.raises(RuntimeError):
        with unlocked.store.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
            raise RuntimeError("boom")
    assert unlocked.store.conn.execute("SELECT count(*) FROM meta WHERE key='b'").fetchone()[0] == 0


def test_integrity_check_clean(unlocked: UnlockedProfile) -> None:
    assert unlocked.store.integrity_check() == []


def test_canary_scan_finds_no_plaintext(unlocked: UnlockedProfile) -> None:
    """Known text and a known float vector go through the store; no file under the profile
    (store.db, -wal, -shm, logs, blobs) holds them, while open and after closing."""
    store = unlocked.store
    with store.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS canary (t TEXT, v BLOB)")
        for i in range(50):
            conn.execute("INSERT INTO canary VALUES (?, ?)", (f"{CANARY_TEXT} {i}", CANARY_VECTOR.tobytes()))
    unlocked.blobs.write("canary-blob", CANARY_TEXT.encode() * 100)
    patterns = text_patterns(CANARY_TEXT) + vector_patterns(CANARY_VECTOR)
    wal = unlocked.home / "store.db-wal"
    assert wal.exists() and wal.stat().st_size > 0  # the WAL is scanned too
    assert scan(unlocked.home, patterns) == []
    unlocked.lock()
    assert scan(unlocked.home, patterns) == []
