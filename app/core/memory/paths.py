"""Reversible text keys for file paths, so names that are not valid UTF-8 round-trip.

A key is the path's bytes decoded as UTF-8 where they are valid; ``%`` and every byte that is
not valid UTF-8 are written as ``%XX``. Keys of the files below a folder start with the
folder's key plus the separator, so ``remove_under`` can match by prefix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_ESCAPE = re.compile(r"%([0-9A-F]{2})")


def path_to_key(path: Path) -> str:
    """The store key of an absolute (or as given) path; reversible by ``key_to_path``."""
    raw = os.fsencode(path)
    text = raw.decode("utf-8", errors="surrogateescape")
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "%":
            out.append("%25")
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, carried as a lone surrogate
            out.append(f"%{code - 0xDC00:02X}")
        else:
            out.append(ch)
    return "".join(out)


def key_to_path(key: str) -> Path:
    """The path a key was made from (byte for byte on POSIX)."""

    def unescape(match: re.Match[str]) -> str:
        value = int(match.group(1), 16)
        return "%" if value == 0x25 else chr(0xDC00 + value)

    text = _ESCAPE.sub(unescape, key)
    return Path(os.fsdecode(text.encode("utf-8", errors="surrogateescape")))


def folder_prefix(folder: Path) -> str:
    """The key prefix shared by every path strictly below ``folder``."""
    key = path_to_key(folder)
    return key if key.endswith(os.sep) else key + os.sep


def like_escape(text: str) -> str:
    """Escape ``text`` for ``LIKE ... ESCAPE '\\'`` (prefix matches on keys)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
