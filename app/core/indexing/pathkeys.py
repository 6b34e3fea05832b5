"""Path <-> store key for names that are not valid UTF-8 (SQLite text must be UTF-8).

A path whose bytes decode as UTF-8 is its own key; any other path becomes a marker followed by
its raw bytes read as latin-1, which maps every byte to one character and back.
"""

from __future__ import annotations

import os
from pathlib import Path

_RAW = "\ufffe"


def path_to_key(path: Path | str) -> str:
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _RAW + os.fsencode(text).decode("latin-1")
    return text


def key_to_path(key: str) -> Path:
    if key.startswith(_RAW):
        return Path(os.fsdecode(key[len(_RAW):].encode("latin-1")))
    return Path(key)
