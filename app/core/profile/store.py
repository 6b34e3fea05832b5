"""store.db: the SQLCipher database that is the source of truth for everything personal.

Keyed with a raw 256-bit HKDF sub-key of the master key (no passphrase KDF inside SQLCipher),
WAL journal, synchronous=FULL, temp tables in memory. Every thread gets its own connection
(``Store.conn``); ``Store.transaction()`` wraps ``BEGIN IMMEDIATE`` ... ``COMMIT``. The index
lane is the only writer of bulk data; other threads read, or write small rows.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlcipher3

from app.core.errors import ProfileDamaged, ProfileError
from app.core.profile import migrations

log = logging.getLogger(__name__)

STORE_NAME = "store.db"
# Below this size the whole file is checked at open; above, doctor does the full check.
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024

DatabaseError = sqlcipher3.DatabaseError


def get_meta(conn: Any, key: str) -> str | None:
    """A value of the ``meta`` table (small facts about the store's contents), or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: Any, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def cipher_version() -> str:
    """SQLCipher's version, or "" when the driver is plain SQLite."""
    conn = sqlcipher3.connect(":memory:")
    try:
        row = conn.execute("PRAGMA cipher_version").fetchone()
        return str(row[0]) if row and row[0] else ""
    finally:
        conn.close()


class Store:
    """An open store.db. Close it (``close``) to drop its key and connections."""

    def __init__(self, path: Path, key: bytes):
        if len(key) != 32:
            raise ValueError("store key must be 32 bytes")
        self.path = path
        self._key_hex: str | None = key.hex()
        self._local = threading.local()
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        if not path.exists():
            # Owner-only from the start; SQLite gives -wal and -shm the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = self.conn
        try:
            if self.path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
                row = conn.execute("PRAGMA quick_check").fetchone()
                if not row or row[0] != "ok":
                    raise ProfileDamaged(STORE_NAME, "integrity check failed")
            migrations.apply(conn)
        except sqlcipher3.DatabaseError as exc:
            self.close()
            raise ProfileDamaged(STORE_NAME, _describe(exc)) from exc
        except BaseException:
            self.close()
            raise

    @property
    def conn(self) -> Any:
        """This thread's connection (created on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> Any:
        if self._key_hex is None:
            raise ProfileError("the store is closed (profile locked)")
        conn = sqlcipher3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        try:
            version = conn.execute("PRAGMA cipher_version").fetchone()
            if not version or not version[0]:
                raise ProfileError("the database driver is plain SQLite, not SQLCipher; reinstall")
            conn.execute(f"PRAGMA key = \"x'{self._key_hex}'\"")
            conn.execute("PRAGMA cipher_memory_security = OFF")
            # First real read: fails here when the key or page 1 is wrong.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA busy_timeout = 30000")
        except sqlcipher3.DatabaseError as exc:
            conn.close()
            raise ProfileDamaged(STORE_NAME, _describe(exc)) from exc
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._conns.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """``BEGIN IMMEDIATE`` on this thread's connection; commit, or roll back on error."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def integrity_check(self) -> list[str]:
        """SQLCipher's page HMAC check plus SQLite's structure check; [] when all is well."""
        problems = [str(r[0]) for r in self.conn.execute("PRAGMA cipher_integrity_check")]
        rows = [str(r[0]) for r in self.conn.execute("PRAGMA integrity_check")]
        if rows != ["ok"]:
            problems.extend(rows)
        return problems

    @property
    def closed(self) -> bool:
        return self._key_hex is None

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
            self._key_hex = None
        for conn in conns:
            try:
                conn.close()
            except sqlcipher3.Error:
                log.warning("closing a store connection failed", exc_info=True)
        self._local = threading.local()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if "not a database" in text:
        return "cannot be decrypted: damaged or not this profile's"
    if "malformed" in text:
        return "malformed database pages"
    return f"database error: {type(exc).__name__}"
