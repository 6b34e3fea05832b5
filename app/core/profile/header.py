"""profile.json: the plaintext header (no secrets): format version, profile id, key slots.

The file carries a SHA-256 checksum of its canonical body, so a flipped byte or a truncation is
reported as damage (naming the file) rather than as a wrong passphrase. Writes are atomic:
temp file, fsync, rename, fsync of the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ProfileDamaged
from app.core.profile.keys import Argon2Params, b64d, b64e

FORMAT = "familiar-profile"
FORMAT_VERSION = 1
HEADER_NAME = "profile.json"
SLOT_KINDS = ("keychain", "passphrase", "recovery")


@dataclass
class Slot:
    kind: str
    slot_id: str
    nonce: bytes
    wrapped: bytes
    kdf: Argon2Params | None = None  # passphrase slots only
    account: str = ""  # keychain slots only: the keyring entry's user name

    def aad(self, profile_id: str, version: int) -> bytes:
        return f"familiar/v{version}/{profile_id}/{self.kind}/{self.slot_id}".encode()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.slot_id,
            "nonce": b64e(self.nonce),
            "wrapped": b64e(self.wrapped),
        }
        if self.kdf is not None:
            out["kdf"] = {
                "name": "argon2id",
                "salt": b64e(self.kdf.salt),
                "memory_kib": self.kdf.memory_kib,
                "iterations": self.kdf.iterations,
                "lanes": self.kdf.lanes,
            }
        if self.account:
            out["account"] = self.account
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Slot:
        if not isinstance(raw, dict):
            raise ValueError("slot is not an object")
        kind = raw["kind"]
        if kind not in SLOT_KINDS:
            raise ValueError(f"unknown slot kind {kind!r}")
        kdf = None
        if kind == "passphrase":
            k = raw["kdf"]
            if k.get("name") != "argon2id":
                raise ValueError("passphrase slot without argon2id")
            kdf = Argon2Params(
                salt=b64d(k["salt"]),
                memory_kib=_int(k["memory_kib"]),
                iterations=_int(k["iterations"]),
                lanes=_int(k["lanes"]),
            )
            if not kdf.is_strong_enough():
                raise ValueError("passphrase slot with key derivation parameters below the floor")
        nonce, wrapped = b64d(raw["nonce"]), b64d(raw["wrapped"])
        if len(nonce) != 12 or len(wrapped) != 48:
            raise ValueError("slot with a wrapped key of the wrong size")
        account = raw.get("account", "")
        if kind == "keychain" and (not isinstance(account, str) or not account):
            raise ValueError("keychain slot without an account")
        slot_id = raw["id"]
        if not isinstance(slot_id, str) or not slot_id:
            raise ValueError("slot without an id")
        return cls(kind, slot_id, nonce, wrapped, kdf, account if isinstance(account, str) else "")


@dataclass
class Header:
    profile_id: str
    created: str
    version: int = FORMAT_VERSION
    slots: list[Slot] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "profile_id": self.profile_id,
            "created": self.created,
            "slots": [s.to_json() for s in self.slots],
        }

    def slots_of(self, kind: str) -> list[Slot]:
        return [s for s in self.slots if s.kind == kind]


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("expected an integer")
    return value


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def dumps(header: Header) -> bytes:
    body = header.body()
    doc = dict(body, checksum=_checksum(body))
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def loads(data: bytes) -> Header:
    """Parse a header. Any malformed input raises ValueError (never another exception)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    checksum = doc.pop("checksum", None)
    if not isinstance(checksum, str) or checksum != _checksum(doc):
        raise ValueError("checksum mismatch")
    if doc.get("format") != FORMAT:
        raise ValueError("not a Familiar profile header")
    try:
        version = _int(doc["version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"unsupported header version {version}")
        profile_id, created = doc["profile_id"], doc["created"]
        if not isinstance(profile_id, str) or not isinstance(created, str) or not profile_id:
            raise ValueError("missing profile id")
        raw_slots = doc["slots"]
        if not isinstance(raw_slots, list):
            raise ValueError("slots is not a list")
        slots = [Slot.from_json(s) for s in raw_slots]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"missing or mistyped field: {type(exc).__name__}") from exc
    except ValueError as exc:  # includes binascii.Error from base64
        raise ValueError(str(exc) or "malformed field") from exc
    return Header(profile_id=profile_id, created=created, version=version, slots=slots)


def read(home: Path) -> Header:
    path = home / HEADER_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ProfileDamaged(HEADER_NAME, f"cannot be read: {exc.strerror}") from exc
    try:
        return loads(data)
    except ValueError as exc:
        raise ProfileDamaged(str(path), str(exc)) from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename over the target, fsync the folder."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(home: Path, header: Header) -> None:
    write_atomic(home / HEADER_NAME, dumps(header))
