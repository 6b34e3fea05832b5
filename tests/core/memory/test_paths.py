"""Path keys: every name round-trips, including bytes that are not UTF-8; prefixes nest."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from app.core.memory.paths import folder_prefix, key_to_path, path_to_key


def test_plain_path_is_readable() -> None:
    assert path_to_key(Path("/home/ada/notes/plan.md")) == "/home/ada/notes/plan.md"


def test_percent_and_invalid_bytes_round_trip() -> None:
    raw = b"/data/caf\xe9 100%/r\xc3\xa9sum\xc3\xa9 \xff.txt"
    path = Path(os.fsdecode(raw))
    key = path_to_key(path)
    key.encode("utf-8")  # storable as TEXT
    assert os.fsencode(key_to_path(key)) == raw
    assert "%25" in key and "%E9" in key and "%FF" in key


@given(st.lists(st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b
                                                         and b"\x00" not in b),
                min_size=1, max_size=4))
def test_any_bytes_round_trip(parts: list[bytes]) -> None:
    raw = b"/" + b"/".join(parts)
    path = Path(os.fsdecode(raw))
    assert os.fsencode(key_to_path(path_to_key(path))) == os.fsencode(path)


def test_children_share_the_folder_prefix() -> None:
    folder = Path(os.fsdecode(b"/x/\xff%dir"))
    child = folder / "inner" / "file.md"
    assert path_to_key(child).startswith(folder_prefix(folder))
    assert not path_to_key(Path(os.fsdecode(b"/x/\xff%dirty/file.md"))).startswith(
        folder_prefix(folder))
