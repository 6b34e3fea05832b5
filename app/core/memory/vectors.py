"""The ANN indexes: chromadb collections holding only ids and (rotated) vectors.

``VectorIndex`` is the persistent index of file chunks under ``<profile>/vectors``. It holds
random ids and embeddings multiplied by a secret orthogonal matrix derived from the profile's
"vectors" sub-key: distances are unchanged, so search is exact-equivalent, and an off-the-shelf
embedding inversion does not apply. This is obfuscation, not encryption; the truth (text and
unrotated embeddings) lives in store.db. No documents and no metadata are ever written here.

``EphemeralVectors`` is an in-memory collection for conversations and memories, rebuilt from
store.db at unlock; nothing of it touches the disk.

Writes come from the index lane only; queries may come from any thread (chromadb locks).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]
COLLECTION = "chunks"
_HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 128, "hnsw:search_ef": 128,
         "hnsw:M": 16}


def rotation_matrix(key: bytes, dim: int) -> Matrix:
    """A secret ``dim x dim`` orthogonal matrix: QR of a Gaussian matrix whose entries come
    from SHAKE-256 of the key (Box-Muller), so it is the same on every numpy version."""
    count = dim * dim
    stream = hashlib.shake_256(b"familiar-vector-rotation\x00" + key + dim.to_bytes(4, "big"))
    raw = np.frombuffer(stream.digest(count * 8), dtype="<u8")
    uniform = (raw >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    half = count // 2 + count % 2
    u1 = np.clip(uniform[:half], 1e-300, 1.0)
    u2 = uniform[half : 2 * half] if 2 * half <= count else np.append(uniform[half:], 0.5)
    radius = np.sqrt(-2.0 * np.log(u1))
    gauss = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])
    q, r = np.linalg.qr(gauss[:count].reshape(dim, dim))
    q *= np.sign(np.diag(r))
    return np.ascontiguousarray(q)


def chroma_settings(persistent: bool, path: Path | None = None) -> Any:
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False, is_persistent=persistent)
    if path is not None:
        settings.persist_directory = str(path)
    return settings


def forget_system(folder: Path, force: bool = False) -> bool:
    """Drop chromadb's cached system for a persistent folder; True when there was one.

    chromadb (``SharedSystemClient``) keeps one system per persist directory for the whole
    process and hands it to every later client of that path. A system whose start failed (a
    damaged chroma.sqlite3: "file is not a database") is cached all the same, never started,
    so every later client of the path fails ("'RustBindingsAPI' object has no attribute
    'bindings'") even after the folder was wiped. ``clear_system_cache`` would drop the
    in-memory collections' system too, so only this path's entry goes, and only when no
    client holds it (unless ``force``: the folder is being deleted)."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient as shared
    except ImportError:
        return False
    systems: dict[str, Any] | None = getattr(shared, "_identifier_to_system", None)
    refcounts: dict[str, int] | None = getattr(shared, "_identifier_to_refcount", None)
    lock = getattr(shared, "_refcount_lock", None)
    if systems is None or refcounts is None or lock is None:
        return False
    identifier = str(folder)
    with lock:
        if not force and refcounts.get(identifier, 0) > 0:
            return False
        system = systems.pop(identifier, None)
        refcounts.pop(identifier, None)
    if system is None:
        return False
    for component in reversed(list(system.components())):  # whatever did start
        try:
            component.stop()
        except Exception:  # a component that never started has nothing to stop
            pass
    return True


# chromadb's Rust bindings hold the GIL for a whole upsert/delete call (a 256-row upsert kept
# every other Python thread, the GUI's included, waiting ~130 ms here). Writes go in small
# batches so the GUI thread gets to draw between them.
WRITE_BATCH = 32


def _batches(size: int, limit: int) -> Iterable[tuple[int, int]]:
    for start in range(0, size, limit):
        yield start, min(size, start + limit)


class _Collection:
    """What both indexes share: add, delete, query, count, ids over a chroma collection."""

    _client: Any
    _collection: Any

    def _transform(self, vectors: Vectors) -> Vectors:
        return vectors

    def _max_batch(self) -> int:
        try:
            return max(1, int(self._client.get_max_batch_size()))
        except Exception:
            return 5000

    def add(self, ids: Sequence[str], vectors: Vectors) -> None:
        if not ids:
            return
        rows = self._transform(np.asarray(vectors, dtype=np.float32))
        for start, end in _batches(len(ids), min(WRITE_BATCH, self._max_batch())):
            self._collection.upsert(ids=list(ids[start:end]), embeddings=rows[start:end])

    def delete(self, ids: Sequence[str]) -> None:
        for start, end in _batches(len(ids), min(WRITE_BATCH, self._max_batch())):
            self._collection.delete(ids=list(ids[start:end]))

    def query(self, vector: Vectors, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest ids with cosine similarity (1 - cosine distance). Fewer when the
        collection holds fewer (chroma returns what it has; no count() first: that costs more
        than the query itself at 100k vectors)."""
        if k <= 0:
            return []
        row = self._transform(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        found = self._collection.query(query_embeddings=row, n_results=k, include=["distances"])
        ids = found["ids"][0]
        distances = found["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def count(self) -> int:
        return int(self._collection.count())

    def ids(self) -> set[str]:
        out: set[str] = set()
        page = self._max_batch()
        offset = 0
        while True:
            got = self._collection.get(include=[], limit=page, offset=offset)["ids"]
            out.update(got)
            if len(got) < page:
                return out
            offset += page


class VectorIndex(_Collection):
    """The persistent, rotated ANN index of file chunks (derived data, rebuildable)."""

    def __init__(self, folder: Path, rotation_key: bytes):
        self.folder = folder
        self._key: bytes | None = rotation_key
        self._rotations: dict[int, Matrix] = {}
        self._client = None
        self._collection = None
        self._open_lock = threading.RLock()
        self.created = False  # True when open() found no index (a rebuild is due)

    def open(self) -> VectorIndex:
        with self._open_lock:  # a search thread and the index lane may both get here first
            if self._collection is None:
                import chromadb

                self.created = not self.folder.exists()
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                try:
                    self._client = chromadb.PersistentClient(
                        path=str(self.folder), settings=chroma_settings(True, self.folder)
                    )
                    self._collection = self._client.get_or_create_collection(
                        COLLECTION, metadata=_HNSW)
                except Exception:
                    # A damaged folder: leave nothing behind that the next open would reuse.
                    self._release(force=False)
                    raise
        return self

    def prepare(self, dim: int) -> Matrix:
        """The rotation for ``dim``-wide vectors, derived once (tens of milliseconds)."""
        if self._key is None:
            raise RuntimeError("the vector index is closed")
        rotation = self._rotations.get(dim)
        if rotation is None:
            rotation = self._rotations[dim] = rotation_matrix(self._key, dim)
        return rotation

    def _transform(self, vectors: Vectors) -> Vectors:
        rotation = self.prepare(vectors.shape[1])
        return np.ascontiguousarray(vectors.astype(np.float64) @ rotation, dtype=np.float32)

    def add(self, ids: Sequence[str], vectors: Vectors) -> None:
        self.open()
        super().add(ids, vectors)

    def delete(self, ids: Sequence[str]) -> None:
        self.open()
        super().delete(ids)

    def query(self, vector: Vectors, k: int) -> list[tuple[str, float]]:
        self.open()
        return super().query(vector, k)

    def count(self) -> int:
        self.open()
        return super().count()

    def ids(self) -> set[str]:
        self.open()
        return super().ids()

    def reset(self) -> None:
        """Drop every entry (the collection is recreated empty)."""
        self.open()
        self._client.delete_collection(COLLECTION)
        self._collection = self._client.get_or_create_collection(COLLECTION, metadata=_HNSW)

    def wipe(self) -> None:
        """Close, forget chromadb's system for this folder and delete the folder (for a
        rebuild from scratch); the next use opens a new, empty index."""
        with self._open_lock:
            self._release(force=True)
            shutil.rmtree(self.folder, ignore_errors=True)

    def close(self, keep_key: bool = False) -> None:
        with self._open_lock:
            self._release(force=False)
        if not keep_key:
            self._key = None
            self._rotations.clear()

    def _release(self, force: bool) -> None:
        """Close the client, then make sure chromadb keeps no system for the folder (only
        ``force`` drops one that another client in this process still uses)."""
        client, self._client, self._collection = self._client, None, None
        if client is not None:
            try:
                client.close()
            except Exception:
                log.warning("closing the vector index failed", exc_info=True)
        forget_system(self.folder, force)


class EphemeralVectors(_Collection):
    """An in-memory chroma collection (conversations, memories): rebuilt from store.db at
    unlock with ``rebuild``, gone when closed. Each instance has its own collection."""

    def __init__(self, purpose: str):
        import chromadb

        self.purpose = purpose
        self._client = chromadb.EphemeralClient(settings=chroma_settings(False))
        self._name = f"{purpose}-{uuid.uuid4().hex}"
        self._collection = self._client.create_collection(self._name, metadata=_HNSW)

    def rebuild(self, rows: Iterable[tuple[str, Vectors]], batch: int = 1000) -> int:
        """Replace the contents with ``(id, vector)`` rows; returns how many were added."""
        self._client.delete_collection(self._name)
        self._collection = self._client.create_collection(self._name, metadata=_HNSW)
        ids: list[str] = []
        vectors: list[Vectors] = []
        total = 0
        for item_id, vector in rows:
            ids.append(item_id)
            vectors.append(np.asarray(vector, dtype=np.float32))
            if len(ids) >= batch:
                self.add(ids, np.vstack(vectors))
                total += len(ids)
                ids, vectors = [], []
        if ids:
            self.add(ids, np.vstack(vectors))
            total += len(ids)
        return total

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.delete_collection(self._name)
            client.close()
        except Exception:
            log.warning("closing an in-memory collection failed", exc_info=True)
