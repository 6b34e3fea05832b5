"""Key material: master key wrapping (AES-256-GCM), Argon2id, HKDF sub-keys, recovery codes.

The master key (MK) is 32 random bytes. Each key slot holds MK wrapped with a slot key (KEK)
under AES-256-GCM, with associated data that binds the profile id, the slot kind, the slot id
and the format version, so a slot cannot be moved to another profile or kind.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12

# Argon2id floor: nothing weaker is accepted from a header, whatever it says.
MIN_ARGON2_MEMORY_KIB = 64 * 1024
MIN_ARGON2_ITERATIONS = 3

# Crockford base32: no I, L, O, U; case-insensitive and forgiving of 0/O and 1/I/L when typed.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_BYTES = 20  # 160 bits -> 32 symbols + 4 check symbols, 9 groups of 4
RECOVERY_CHECK_SYMBOLS = 4


class UnwrapError(Exception):
    """The slot key does not open this slot (wrong secret or a damaged slot)."""


def new_master_key() -> bytearray:
    return bytearray(secrets.token_bytes(KEY_BYTES))


def wrap(kek: bytes, master_key: bytes | bytearray, aad: bytes) -> tuple[bytes, bytes]:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(kek).encrypt(nonce, bytes(master_key), aad)


def unwrap(kek: bytes, nonce: bytes, wrapped: bytes, aad: bytes) -> bytearray:
    try:
        return bytearray(AESGCM(kek).decrypt(nonce, wrapped, aad))
    except (InvalidTag, ValueError) as exc:
        raise UnwrapError() from exc


@dataclass(frozen=True)
class Argon2Params:
    salt: bytes
    memory_kib: int = MIN_ARGON2_MEMORY_KIB
    iterations: int = MIN_ARGON2_ITERATIONS
    lanes: int = 4

    @classmethod
    def fresh(cls) -> Argon2Params:
        return cls(salt=secrets.token_bytes(16))

    def is_strong_enough(self) -> bool:
        return (
            self.memory_kib >= MIN_ARGON2_MEMORY_KIB
            and self.iterations >= MIN_ARGON2_ITERATIONS
            and 1 <= self.lanes <= 64
            and len(self.salt) >= 16
        )


def passphrase_kek(passphrase: str, params: Argon2Params) -> bytes:
    kdf = Argon2id(
        salt=params.salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase.encode("utf-8"))


def subkey(master_key: bytes | bytearray, purpose: str) -> bytes:
    """An independent key for one purpose (``sqlcipher``, ``blobs``, ``vectors``...)."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=f"familiar/{purpose}/v1".encode(),
    ).derive(bytes(master_key))


def wipe(buf: bytearray | None) -> None:
    """Best-effort zeroing of key bytes we own (Python may hold other copies)."""
    if buf is not None:
        for i in range(len(buf)):
            buf[i] = 0


# --- recovery codes -------------------------------------------------------------------------


def new_recovery_code() -> tuple[str, bytes]:
    """A random recovery code for a person to write down, and its raw bytes."""
    raw = secrets.token_bytes(RECOVERY_BYTES)
    return format_recovery_code(raw), raw


def format_recovery_code(raw: bytes) -> str:
    symbols = _b32(raw) + _check_symbols(raw)
    return "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


def parse_recovery_code(text: str) -> bytes:
    """Raw bytes of a typed recovery code; ValueError names what is wrong with it."""
    cleaned = (
        text.strip().upper().replace("-", "").replace(" ", "")
        .replace("O", "0").replace("I", "1").replace("L", "1")
    )
    want = (RECOVERY_BYTES * 8 + 4) // 5 + RECOVERY_CHECK_SYMBOLS
    if len(cleaned) != want or any(c not in _CROCKFORD for c in cleaned):
        raise ValueError(f"a recovery key has {want} letters and digits in groups of four")
    raw = _unb32(cleaned[:-RECOVERY_CHECK_SYMBOLS], RECOVERY_BYTES)
    if _check_symbols(raw) != cleaned[-RECOVERY_CHECK_SYMBOLS:]:
        raise ValueError("the recovery key has a typo (its check letters do not match)")
    return raw


def recovery_kek(raw: bytes) -> bytes:
    """The recovery code has 160 random bits: HKDF suffices, no slow KDF needed."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"familiar/recovery/v1"
    ).derive(raw)


def _b32(raw: bytes) -> str:
    bits = int.from_bytes(raw, "big")
    n = (len(raw) * 8 + 4) // 5
    bits <<= n * 5 - len(raw) * 8
    return "".join(_CROCKFORD[(bits >> (5 * (n - 1 - i))) & 31] for i in range(n))


def _unb32(text: str, nbytes: int) -> bytes:
    bits = 0
    for c in text:
        bits = (bits << 5) | _CROCKFORD.index(c)
    bits >>= len(text) * 5 - nbytes * 8
    return bits.to_bytes(nbytes, "big")


def _check_symbols(raw: bytes) -> str:
    digest = hashlib.sha256(b"familiar-recovery" + raw).digest()
    return "".join(_CROCKFORD[b & 31] for b in digest[:RECOVERY_CHECK_SYMBOLS])


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def random_id(nbytes: int = 16) -> str:
    return os.urandom(nbytes).hex()
