"""Numbered schema migrations of store.db: modules ``mNNN_<what>.py`` with ``up(conn)``.

``PRAGMA user_version`` records the last applied number. Each migration runs in its own
transaction, so a crash leaves the store at the previous version, never half-way. Numbers are
never reused or reordered once released.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any

_NAME = re.compile(r"^m(\d{3})_\w+$")


def available() -> list[tuple[int, str, Callable[[Any], None]]]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        match = _NAME.match(info.name)
        if match:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append((int(match.group(1)), info.name, module.up))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"duplicate migration numbers: {numbers}")
    return found


def apply(conn: Any) -> int:
    """Apply every migration above the store's version; returns the new version."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for number, _name, up in available():
        if number <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            up(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        current = number
    return current


def run_script(conn: Any, script: str) -> None:
    """Execute ``;``-separated statements one by one inside the caller's transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if _complete(statement):
            if statement.strip():
                conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def _complete(statement: str) -> bool:
    import sqlcipher3

    return bool(sqlcipher3.complete_statement(statement))
