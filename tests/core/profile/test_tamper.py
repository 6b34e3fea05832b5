"""Damage to any profile file gives a defined error naming the file; never a new profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import ProfileDamaged, WrongSecret
from app.core.profile import header as hdr
from app.core.profile.vault import Vault
from tests.fixtures.profiles import PASSPHRASE


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_flipped_byte_anywhere_in_header_is_damage(created: tuple[Path, str]) -> None:
    home, _ = created
    path = home / hdr.HEADER_NAME
    original = path.read_bytes()
    for offset in range(0, len(original), max(1, len(original) // 40)):
        path.write_bytes(original)
        _flip(path, offset)
        with pytest.raises(ProfileDamaged) as err:
            Vault.load(home)
        assert "profile.json" in str(err.value)


@pytest.mark.parametrize("keep", [0, 1, 10, 0.5, -2])
def test_truncated_header_is_damage(created: tuple[Path, str], keep: float) -> None:
    home, _ = created
    path = home / hdr.HEADER_NAME
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:cut])
    with pytest.raises(ProfileDamaged, match="profile.json"):
        Vault.load(home)


def test_damaged_slot_with_valid_checksum_is_not_silently_accepted(
    created: tuple[Path, str],
) -> None:
    """Someone edits a slot and fixes the checksum: GCM still refuses it."""
    home, _ = created
    header = hdr.read(home)
    slot = header.slots_of("passphrase")[0]
    slot.wrapped = bytes([slot.wrapped[0] ^ 1]) + slot.wrapped[1:]
    hdr.write(home, header)
    with pytest.raises(WrongSecret):
        Vault.load(home).unlock_passphrase(PASSPHRASE)


def test_weakened_kdf_parameters_are_refused(created: tuple[Path, str]) -> None:
    home, _ = created
    doc = json.loads((home / hdr.HEADER_NAME).read_text())
    doc.pop("checksum")
    for slot in doc["slots"]:
        if slot["kind"] == "passphrase":
            slot["kdf"]["memory_kib"] = 8
    header_bytes = json.dumps(dict(doc, checksum=hdr._checksum(doc))).encode()
    (home / hdr.HEADER_NAME).write_bytes(header_bytes)
    with pytest.raises(ProfileDamaged, match="below the floor"):
        Vault.load(home)


def test_missing_header_with_existing_store_is_damage_not_new_profile(
    created: tuple[Path, str],
) -> None:
    home, _ = created
    (home / hdr.HEADER_NAME).unlink()
    with pytest.raises(ProfileDamaged, match="missing"):
        Vault.load(home)
    with pytest.raises(Exception, match="already exists"):
        Vault.create(home, passphrase="x")


def _store_with_rows(home: Path) -> None:
    profile = Vault.load(home).unlock_passphrase(PASSPHRASE)
    with profile.store.transaction() as conn:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [(f"k{i}", "v" * 500) for i in range(200)],
        )
    profile.lock()


@pytest.mark.parametrize("where", [0.0, 0.3, 0.6, 0.95])
def test_flipped_byte_in_store_is_damage(created: tuple[Path, str], where: float) -> None:
    home, _ = created
    _store_with_rows(home)
    path = home / "store.db"
    _flip(path, int(path.stat().st_size * where) + 40)
    with pytest.raises(ProfileDamaged, match="store.db"):
        profile = Vault.load(home).unlock_passphrase(PASSPHRASE)
        try:
            profile.store.conn.execute("SELECT count(*), max(value) FROM meta").fetchone()
        finally:
            profile.lock()


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_store_is_damage(created: tuple[Path, str], keep: float) -> None:
    home, _ = created
    _store_with_rows(home)
    path = home / "store.db"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ProfileDamaged, match="store.db"):
        profile = Vault.load(home).unlock_passphrase(PASSPHRASE)
        try:
            profile.store  # noqa: B018  (opening is what fails)
        finally:
            profile.lock()
