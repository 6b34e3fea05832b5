"""The profile on disk: create it, unlock it through a key slot, change its passphrase, lock it.

A profile is a folder with ``profile.json`` (header and key slots) and ``store.db`` (SQLCipher)
plus derived data. Nothing here ever creates a master key over existing data: ``create`` refuses
a folder that already holds a header or a store.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from app.core.errors import (
    KeychainUnavailable,
    Locked,
    ProfileDamaged,
    ProfileExists,
    ProfileMissing,
    WrongSecret,
)
from app.core.profile import header as hdr
from app.core.profile import keys
from app.core.profile.blobs import BlobStore
from app.core.profile.header import Header, Slot
from app.core.profile.keychain import Keychain
from app.core.profile.store import STORE_NAME, Store

log = logging.getLogger(__name__)

BLOBS_DIR = "blobs"


def profile_exists(home: Path) -> bool:
    return (home / hdr.HEADER_NAME).exists() or (home / STORE_NAME).exists()


class Vault:
    """A locked profile: its header, and the ways to unlock it."""

    def __init__(self, home: Path, header: Header):
        self.home = home
        self.header = header

    # --- creation ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: Path,
        *,
        passphrase: str | None = None,
        keychain: Keychain | None = None,
    ) -> tuple[UnlockedProfile, str]:
        """Create a profile; returns it unlocked, with the recovery code to show once."""
        if profile_exists(home):
            raise ProfileExists(f"a profile already exists in {home}; unlock it instead")
        if passphrase is None and keychain is None:
            raise ValueError("a profile needs a passphrase or the keychain")
        if passphrase is not None and not passphrase:
            raise WrongSecret("the passphrase must not be empty")
        if keychain is not None:
            keychain.check()  # KeychainUnavailable: the caller offers the passphrase instead
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        profile_id = keys.random_id()
        header = Header(profile_id=profile_id, created=datetime.now(UTC).isoformat())
        master = keys.new_master_key()
        if passphrase is not None:
            header.slots.append(_passphrase_slot(header, master, passphrase))
        if keychain is not None:
            header.slots.append(_keychain_slot(header, master, keychain))
        code, raw = keys.new_recovery_code()
        header.slots.append(_slot(header, master, "recovery", keys.recovery_kek(raw)))
        hdr.write(home, header)
        return UnlockedProfile(home, header, master), code

    @classmethod
    def load(cls, home: Path) -> Vault:
        try:
            header = hdr.read(home)
        except FileNotFoundError:
            if (home / STORE_NAME).exists():
                raise ProfileDamaged(
                    str(home / hdr.HEADER_NAME), "missing while store.db exists"
                ) from None
            raise ProfileMissing(
                f"no profile in {home}; create one with 'familiar init'"
            ) from None
        return cls(home, header)

    # --- unlocking --------------------------------------------------------------------------

    def slot_kinds(self) -> list[str]:
        return [s.kind for s in self.header.slots]

    def unlock_passphrase(self, passphrase: str) -> UnlockedProfile:
        slots = self.header.slots_of("passphrase")
        if not slots:
            raise WrongSecret("this profile has no passphrase; unlock with the recovery key")
        for slot in slots:
            assert slot.kdf is not None
            master = self._try(slot, keys.passphrase_kek(passphrase, slot.kdf))
            if master is not None:
                return UnlockedProfile(self.home, self.header, master)
        raise WrongSecret("wrong passphrase")

    def unlock_recovery(self, code: str) -> UnlockedProfile:
        try:
            raw = keys.parse_recovery_code(code)
        except ValueError as exc:
            raise WrongSecret(f"wrong recovery key: {exc}") from exc
        for slot in self.header.slots_of("recovery"):
            master = self._try(slot, keys.recovery_kek(raw))
            if master is not None:
                return UnlockedProfile(self.home, self.header, master)
        raise WrongSecret("wrong recovery key")

    def unlock_keychain(self, keychain: Keychain) -> UnlockedProfile | None:
        """Unlock through the keychain; None when its entry is missing or no longer fits."""
        for slot in self.header.slots_of("keychain"):
            secret = keychain.load(slot.account)
            if secret is None or len(secret) != keys.KEY_BYTES:
                continue
            master = self._try(slot, secret)
            if master is not None:
                return UnlockedProfile(self.home, self.header, master)
        return None

    def _try(self, slot: Slot, kek: bytes) -> bytearray | None:
        aad = slot.aad(self.header.profile_id, self.header.version)
        try:
            return keys.unwrap(kek, slot.nonce, slot.wrapped, aad)
        except keys.UnwrapError:
            return None


class UnlockedProfile:
    """An open profile: the master key, the store and the blob store. ``lock`` drops them."""

    def __init__(self, home: Path, header: Header, master: bytearray):
        self.home = home
        self.header = header
        self._master: bytearray | None = master
        self._store: Store | None = None
        self._blobs: BlobStore | None = None

    @property
    def profile_id(self) -> str:
        return self.header.profile_id

    @property
    def locked(self) -> bool:
        return self._master is None

    def subkey(self, purpose: str) -> bytes:
        if self._master is None:
            raise Locked("the profile is locked")
        return keys.subkey(self._master, purpose)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.home / STORE_NAME, self.subkey("sqlcipher"))
        return self._store

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = BlobStore(self.home / BLOBS_DIR, self.subkey("blobs"))
        return self._blobs

    # --- slots ------------------------------------------------------------------------------

    def change_passphrase(self, new_passphrase: str) -> None:
        """Re-wrap the master key under a new passphrase. Crash-safe: the header on disk
        always opens with the old or the new passphrase (old slot kept until the new one
        has been read back from disk and proven to open)."""
        if not new_passphrase:
            raise WrongSecret("the new passphrase must not be empty")
        master = self._require_master()
        new_slot = _passphrase_slot(self.header, master, new_passphrase)
        both = Header(
            self.header.profile_id, self.header.created, self.header.version,
            [*self.header.slots, new_slot],
        )
        hdr.write(self.home, both)
        proof = Vault.load(self.home).unlock_passphrase(new_passphrase)
        try:
            if bytes(proof._require_master()) != bytes(master):
                raise ProfileDamaged(hdr.HEADER_NAME, "the new passphrase slot does not verify")
        finally:
            proof.lock()
        final = Header(
            both.profile_id, both.created, both.version,
            [s for s in both.slots if s.kind != "passphrase" or s.slot_id == new_slot.slot_id],
        )
        hdr.write(self.home, final)
        self.header = final

    def add_keychain(self, keychain: Keychain) -> None:
        """Add (or replace) the keychain slot; KeychainUnavailable when it cannot keep it."""
        master = self._require_master()
        slot = _keychain_slot(self.header, master, keychain)
        kept = [s for s in self.header.slots if s.kind != "keychain"]
        new = Header(self.header.profile_id, self.header.created, self.header.version,
                     [*kept, slot])
        hdr.write(self.home, new)
        for old in self.header.slots_of("keychain"):
            if old.account != slot.account:
                keychain.delete(old.account)
        self.header = new

    def _require_master(self) -> bytearray:
        if self._master is None:
            raise Locked("the profile is locked")
        return self._master

    # --- locking ----------------------------------------------------------------------------

    def lock(self) -> None:
        """Close the store and drop every key this object and its children hold."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._blobs is not None:
            self._blobs.close()
            self._blobs = None
        keys.wipe(self._master)
        self._master = None


def _slot(header: Header, master: bytearray, kind: str, kek: bytes, **extra: object) -> Slot:
    slot = Slot(kind=kind, slot_id=keys.random_id(8), nonce=b"", wrapped=b"", **extra)  # type: ignore[arg-type]
    slot.nonce, slot.wrapped = keys.wrap(kek, master, slot.aad(header.profile_id, header.version))
    return slot


def _passphrase_slot(header: Header, master: bytearray, passphrase: str) -> Slot:
    params = keys.Argon2Params.fresh()
    return _slot(header, master, "passphrase", keys.passphrase_kek(passphrase, params), kdf=params)


def _keychain_slot(header: Header, master: bytearray, keychain: Keychain) -> Slot:
    secret = os.urandom(keys.KEY_BYTES)
    account = f"profile-{header.profile_id}-{keys.random_id(4)}"
    try:
        keychain.store(account, secret)
    except KeychainUnavailable:
        keychain.delete(account)
        raise
    return _slot(header, master, "keychain", secret, account=account)
