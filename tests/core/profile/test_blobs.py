from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.errors import ProfileDamaged
from app.core.profile import blobs as blobs_mod
from app.core.profile.blobs import BlobStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    monkeypatch.setattr(blobs_mod, "CHUNK_BYTES", 1024)
    return BlobStore(tmp_path / "blobs", os.urandom(32))


def _chunks(path: Path) -> tuple[bytes, list[bytes]]:
    data = path.read_bytes()
    head_len = len(blobs_mod.MAGIC) + blobs_mod.SALT_BYTES
    head, rest, out = data[:head_len], data[head_len:], []
    while rest:
        n = int.from_bytes(rest[:4], "big")
        out.append(rest[: 4 + n])
        rest = rest[4 + n :]
    return head, out


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 5000])
def test_round_trip(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    store.write("adapter", data)
    assert store.read("adapter") == data
    assert store.exists("adapter")


def test_streaming_write(store: BlobStore) -> None:
    pieces = [os.urandom(700) for _ in range(5)]
    store.write("export", iter(pieces))
    assert store.read("export") == b"".join(pieces)


def test_name_never_on_disk_and_no_plaintext(store: BlobStore) -> None:
    marker = b"CANARY-" * 300
    path = store.write("my-secret-adapter-name", marker)
    raw = path.read_bytes()
    assert b"CANARY" not in raw and b"my-secret" not in raw
    assert "my-secret" not in path.name


def test_truncation_detected(store: BlobStore) -> None:
    path = store.write("x", os.urandom(5000))
    head, chunks = _chunks(path)
    path.write_bytes(head + b"".join(chunks[:-1]))  # drop the final chunk
    with pytest.raises(ProfileDamaged, match="truncated"):
        store.read("x")
    path.write_bytes(head + b"".join(chunks)[:-10])
    with pytest.raises(ProfileDamaged):
        store.read("x")


def test_reordering_detected(store: BlobStore) -> None:
    path = store.write("x", os.urandom(4000))
    head, chunks = _chunks(path)
    chunks[0], chunks[1] = chunks[1], chunks[0]
    path.write_bytes(head + b"".join(chunks))
    with pytest.raises(ProfileDamaged, match="authentication"):
        store.read("x")


def test_appended_data_detected(store: BlobStore) -> None:
    path = store.write("x", os.urandom(2000))
    path.write_bytes(path.read_bytes() + b"extra")
    with pytest.raises(ProfileDamaged):
        store.read("x")


def test_swapped_files_detected(store: BlobStore) -> None:
    a = store.write("a", b"alpha" * 10)
    b = store.write("b", b"bravo" * 10)
    a.write_bytes(b.read_bytes())
    with pytest.raises(ProfileDamaged):
        store.read("a")


def test_flipped_byte_detected(store: BlobStore) -> None:
    path = store.write("x", os.urandom(3000))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(ProfileDamaged):
        store.read("x")
