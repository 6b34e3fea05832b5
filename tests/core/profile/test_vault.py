"""Key slots: every slot opens, wrong secrets change nothing, the keychain is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backends import chainer, fail, null

from app.core.errors import KeychainUnavailable, Locked, ProfileExists, WrongSecret
from app.core.profile import header as hdr
from app.core.profile.keychain import Keychain, refusal
from app.core.profile.vault import Vault
from tests.fixtures.keyrings import ForgetfulKeyring, MemoryKeyring
from tests.fixtures.profiles import PASSPHRASE, snapshot


def _mark(profile) -> None:  # type: ignore[no-untyped-def]
    with profile.store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('mark', 'here')")


def _read_mark(profile) -> str:  # type: ignore[no-untyped-def]
    return profile.store.conn.execute("SELECT value FROM meta WHERE key='mark'").fetchone()[0]


def test_passphrase_slot_round_trip(home: Path) -> None:
    profile, _ = Vault.create(home, passphrase=PASSPHRASE)
    _mark(profile)
    profile.lock()
    reopened = Vault.load(home).unlock_passphrase(PASSPHRASE)
    assert _read_mark(reopened) == "here"
    reopened.lock()


def test_recovery_slot_round_trip(home: Path) -> None:
    profile, code = Vault.create(home, passphrase=PASSPHRASE)
    _mark(profile)
    profile.lock()
    reopened = Vault.load(home).unlock_recovery(code)
    assert _read_mark(reopened) == "here"
    reopened.lock()


def test_keychain_slot_round_trip(home: Path) -> None:
    backend = MemoryKeyring()
    profile, _ = Vault.create(home, keychain=Keychain(backend))
    _mark(profile)
    profile.lock()
    assert sorted(Vault.load(home).slot_kinds()) == ["keychain", "recovery"]
    reopened = Vault.load(home).unlock_keychain(Keychain(backend))
    assert reopened is not None and _read_mark(reopened) == "here"
    reopened.lock()
    # The keychain holds a slot key, never the master key or anything the header shows.
    assert len(backend.entries) == 1


def test_vanished_keychain_entry_falls_back_without_new_key(home: Path) -> None:
    backend = MemoryKeyring()
    profile, code = Vault.create(home, passphrase=PASSPHRASE, keychain=Keychain(backend))
    _mark(profile)
    profile.lock()
    before = snapshot(home)
    backend.entries.clear()
    vault = Vault.load(home)
    assert vault.unlock_keychain(Keychain(backend)) is None
    assert vault.unlock_keychain(Keychain(MemoryKeyring())) is None  # backend changed
    assert snapshot(home) == before
    for opened in (vault.unlock_passphrase(PASSPHRASE), vault.unlock_recovery(code)):
        assert _read_mark(opened) == "here"
        opened.lock()
    with pytest.raises(ProfileExists):
        Vault.create(home, passphrase="other")


class EmptyChainer(chainer.ChainerBackend):
    backends: list[object] = []


class GoodChainer(chainer.ChainerBackend):
    backends = [MemoryKeyring(), fail.Keyring()]


class FailFirstChainer(chainer.ChainerBackend):
    backends = [null.Keyring(), MemoryKeyring()]


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), null.Keyring(), EmptyChainer(), FailFirstChainer()],
    ids=["fail", "null", "empty-chainer", "chainer-null-first"],
)
def test_refused_keyring_backends(home: Path, backend: object) -> None:
    assert refusal(backend) is not None
    with pytest.raises(KeychainUnavailable, match="passphrase"):
        Vault.create(home, keychain=Keychain(backend))
    assert not any(home.iterdir())


def test_plaintext_keyring_is_refused() -> None:
    plaintext = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})
    assert "plaintext" in (refusal(plaintext()) or "")
    assert refusal(MemoryKeyring()) is None


def test_chainer_is_judged_by_its_first_backend() -> None:
    assert refusal(GoodChainer()) is None


def test_default_backend_selection_runs_on_this_machine() -> None:
    """The real selection, in a fresh process (test backends register themselves with keyring
    in this one): whatever keyring picks is either usable or refused with a reason."""
    script = (
        "import json; from app.core.profile.keychain import Keychain, refusal;"
        "k = Keychain(); print(json.dumps([k.name, refusal(k.backend)]))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60)
    name, reason = json.loads(out.stdout)
    assert name.startswith("keyring.") or name.startswith("keyrings.")
    assert reason is None or "keychain" in reason


def test_keychain_that_does_not_keep_secrets_is_refused(home: Path) -> None:
    with pytest.raises(KeychainUnavailable, match="did not keep"):
        Vault.create(home, keychain=Keychain(ForgetfulKeyring()))
    assert not (home / hdr.HEADER_NAME).exists()


def test_wrong_secrets_leave_every_file_unchanged(created: tuple[Path, str]) -> None:
    home, code = created
    before = snapshot(home)
    vault = Vault.load(home)
    with pytest.raises(WrongSecret, match="wrong passphrase"):
        vault.unlock_passphrase("not it")
    with pytest.raises(WrongSecret, match="recovery key"):
        vault.unlock_recovery(code[:-1] + ("0" if code[-1] != "0" else "1"))
    other, _ = __import__("app.core.profile.keys", fromlist=["x"]).new_recovery_code()
    with pytest.raises(WrongSecret, match="wrong recovery key"):
        vault.unlock_recovery(other)
    assert snapshot(home) == before


def test_change_passphrase_rewraps_only(created: tuple[Path, str]) -> None:
    home, code = created
    store_before = (home / "store.db").read_bytes()
    profile = Vault.load(home).unlock_passphrase(PASSPHRASE)
    profile.change_passphrase("new secret")
    profile.lock()
    assert (home / "store.db").read_bytes() == store_before
    vault = Vault.load(home)
    with pytest.raises(WrongSecret):
        vault.unlock_passphrase(PASSPHRASE)
    vault.unlock_passphrase("new secret").lock()
    vault.unlock_recovery(code).lock()
    assert [s.kind for s in vault.header.slots].count("passphrase") == 1


@pytest.mark.parametrize("fail_on_write", [1, 2])
def test_interrupted_passphrase_change_keeps_a_working_passphrase(
    created: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, fail_on_write: int
) -> None:
    home, _ = created
    profile = Vault.load(home).unlock_passphrase(PASSPHRASE)
    real_write = hdr.write
    calls = {"n": 0}

    def crashing_write(where: Path, header: hdr.Header) -> None:
        calls["n"] += 1
        if calls["n"] == fail_on_write:
            raise OSError("simulated crash")
        real_write(where, header)

    monkeypatch.setattr(hdr, "write", crashing_write)
    with pytest.raises(OSError):
        profile.change_passphrase("new secret")
    profile.lock()
    monkeypatch.setattr(hdr, "write", real_write)
    vault = Vault.load(home)
    vault.unlock_passphrase(PASSPHRASE).lock()
    if fail_on_write == 2:  # both slots were on disk
        vault.unlock_passphrase("new secret").lock()


def test_lock_drops_keys_and_store(unlocked) -> None:  # type: ignore[no-untyped-def]
    store = unlocked.store
    blobs = unlocked.blobs
    unlocked.lock()
    assert unlocked.locked and store.closed
    with pytest.raises(Locked):
        unlocked.subkey("sqlcipher")
    with pytest.raises(ValueError, match="locked"):
        blobs.read("x")
    with pytest.raises(Exception, match="closed"):
        store.conn.execute("SELECT 1")


def test_empty_passphrase_refused(home: Path) -> None:
    with pytest.raises(WrongSecret):
        Vault.create(home, passphrase="")
