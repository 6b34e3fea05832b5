"""Encrypted blobs for personal files that are not rows (LoRA adapters, exports).

Format: magic, version, a random per-file salt; then chunks of ``[4-byte length][12-byte
nonce][ciphertext+tag]``. Each chunk is sealed with AES-256-GCM under a per-file key (HKDF of
the blob key and the salt); its associated data binds the blob's name, the chunk index and a
final-chunk flag, so reordering, swapping files, truncation and appended data are all detected.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core.errors import ProfileDamaged
from app.core.profile.header import fsync_dir

MAGIC = b"FMLBLOB1"
SALT_BYTES = 32
CHUNK_BYTES = 1 << 20
_LEN = struct.Struct(">I")


class BlobStore:
    """Blobs under ``folder``, named by the caller; names never appear on disk in plaintext."""

    def __init__(self, folder: Path, key: bytes):
        self.folder = folder
        self._key: bytes | None = key

    def _file(self, name: str) -> Path:
        digest = hashlib.sha256(self._require_key() + name.encode()).hexdigest()[:32]
        return self.folder / f"{digest}.blob"

    def _require_key(self) -> bytes:
        if self._key is None:
            raise ValueError("blob store is locked")
        return self._key

    def _file_key(self, salt: bytes) -> AESGCM:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=salt, info=b"familiar/blob-file/v1"
        ).derive(self._require_key())
        return AESGCM(key)

    def write(self, name: str, data: bytes | Iterable[bytes]) -> Path:
        """Encrypt ``data`` (bytes or an iterable of pieces) into the blob ``name``, atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self._file(name)
        tmp = target.with_suffix(".tmp")
        salt = secrets.token_bytes(SALT_BYTES)
        aead = self._file_key(salt)
        pieces = [data] if isinstance(data, bytes | bytearray) else data
        with open(tmp, "wb") as out:
            out.write(MAGIC + salt)
            index = 0
            pending = b""
            for chunk in _rechunk(pieces):
                if pending:
                    out.write(_seal(aead, name, index, pending, final=False))
                    index += 1
                pending = chunk
            out.write(_seal(aead, name, index, pending, final=True))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        fsync_dir(self.folder)
        return target

    def read(self, name: str) -> bytes:
        return b"".join(self.iter_read(name))

    def iter_read(self, name: str) -> Iterator[bytes]:
        """Decrypted chunks in order; ProfileDamaged when anything was changed or cut."""
        path = self._file(name)
        label = f"blob {path.name}"
        with open(path, "rb") as src:
            head = src.read(len(MAGIC) + SALT_BYTES)
            if len(head) != len(MAGIC) + SALT_BYTES or not head.startswith(MAGIC):
                raise ProfileDamaged(label, "not a Familiar blob or truncated header")
            aead = self._file_key(head[len(MAGIC) :])
            index = 0
            while True:
                raw_len = src.read(_LEN.size)
                if len(raw_len) < _LEN.size:
                    raise ProfileDamaged(label, "truncated (final chunk missing)")
                (length,) = _LEN.unpack(raw_len)
                if length > CHUNK_BYTES + 12 + 16 + 1:
                    raise ProfileDamaged(label, "chunk length out of range")
                sealed = src.read(length)
                if len(sealed) != length:
                    raise ProfileDamaged(label, "truncated chunk")
                plain, final = _open_chunk(aead, name, index, sealed, label)
                if final and src.read(1):
                    raise ProfileDamaged(label, "data after the final chunk")
                yield plain
                if final:
                    return
                index += 1

    def exists(self, name: str) -> bool:
        return self._file(name).exists()

    def delete(self, name: str) -> None:
        self._file(name).unlink(missing_ok=True)

    def close(self) -> None:
        self._key = None


def _aad(name: str, index: int, final: bool) -> bytes:
    return MAGIC + name.encode() + b"\0" + struct.pack(">Q?", index, final)


def _open_chunk(aead: AESGCM, name: str, index: int, sealed: bytes,
                label: str) -> tuple[bytes, bool]:
    """Decrypt one chunk; which associated data opens it says whether it is the last."""
    nonce, ciphertext = sealed[:12], sealed[12:]
    for final in (False, True):
        try:
            return aead.decrypt(nonce, ciphertext, _aad(name, index, final)), final
        except InvalidTag:
            continue
    raise ProfileDamaged(label, f"chunk {index} fails authentication")


def _seal(aead: AESGCM, name: str, index: int, chunk: bytes, final: bool) -> bytes:
    nonce = secrets.token_bytes(12)
    sealed = nonce + aead.encrypt(nonce, chunk, _aad(name, index, final))
    return _LEN.pack(len(sealed)) + sealed


def _rechunk(pieces: Iterable[bytes]) -> Iterator[bytes]:
    buf = bytearray()
    for piece in pieces:
        buf += piece
        while len(buf) >= CHUNK_BYTES:
            yield bytes(buf[:CHUNK_BYTES])
            del buf[:CHUNK_BYTES]
    if buf:
        yield bytes(buf)
