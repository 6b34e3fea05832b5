from __future__ import annotations

import pytest

from app.core.profile import keys


def test_recovery_code_round_trip_and_forgiving_input() -> None:
    code, raw = keys.new_recovery_code()
    groups = code.split("-")
    assert len(groups) == 9 and all(len(g) == 4 for g in groups)
    assert keys.parse_recovery_code(code) == raw
    assert keys.parse_recovery_code(code.lower().replace("-", " ")) == raw


def test_recovery_code_typo_is_caught() -> None:
    code, _ = keys.new_recovery_code()
    i = 5
    swapped = code[:i] + ("0" if code[i] != "0" else "1") + code[i + 1 :]
    with pytest.raises(ValueError):
        keys.parse_recovery_code(swapped)
    with pytest.raises(ValueError):
        keys.parse_recovery_code(code[:-2])


def test_wrap_binds_associated_data() -> None:
    kek = bytes(range(32))
    master = keys.new_master_key()
    nonce, wrapped = keys.wrap(kek, master, b"profile-a/passphrase")
    assert keys.unwrap(kek, nonce, wrapped, b"profile-a/passphrase") == master
    with pytest.raises(keys.UnwrapError):
        keys.unwrap(kek, nonce, wrapped, b"profile-b/passphrase")
    with pytest.raises(keys.UnwrapError):
        keys.unwrap(bytes(32), nonce, wrapped, b"profile-a/passphrase")


def test_subkeys_are_distinct_and_deterministic() -> None:
    master = keys.new_master_key()
    a, b = keys.subkey(master, "sqlcipher"), keys.subkey(master, "blobs")
    assert a != b and len(a) == len(b) == 32
    assert keys.subkey(master, "sqlcipher") == a


def test_argon2_floor() -> None:
    weak = keys.Argon2Params(salt=b"s" * 16, memory_kib=1024, iterations=1)
    assert not weak.is_strong_enough()
    assert keys.Argon2Params.fresh().is_strong_enough()
