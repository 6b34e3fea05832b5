"""Files into memory: stat + content hash -> extract -> chunk -> embed -> store -> ANN index.

The ``Ingestor`` runs on the index lane only: it is the single writer of the chunk tables and
of the ANN index. store.db is the truth: one transaction per batch writes file rows, chunks,
FTS rows (by trigger) and embeddings and marks the ANN index dirty; the ANN is updated after
the commit and the mark cleared. ``check_ann`` (run before the first write of an Ingestor, and
by ``rebuild_ann``) repairs the ANN after a crash: ids not in the store are removed, missing
ones re-added from the stored embeddings, so no duplicate chunks and no orphan vectors remain.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.config import MemorySettings
from app.core.memory.chunking import Chunk, chunk_pieces
from app.core.memory.embedder import Embedder, longest_first_batches
from app.core.memory.extract import EXTRACTED, extract
from app.core.memory.paths import folder_prefix, key_to_path, like_escape, path_to_key
from app.core.memory.vectors import VectorIndex
from app.core.profile.store import Store, get_meta, set_meta
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

__all__ = ["FileOutcome", "Ingestor", "key_to_path", "path_to_key"]

META_MODEL = "memory.embedding_model"
META_ANN_DIRTY = "memory.ann_dirty"
HASH_BLOCK = 1 << 20
# The chunks whose embeddings come from the configured model (the ANN index holds only these).
_CURRENT = "FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.embedding_model = ?"
BATCH_CHUNKS = 256  # chunks embedded and committed together (across files)


@dataclass(frozen=True)
class FileOutcome:
    path: Path
    status: str  # "indexed" | "unchanged" | "skipped" | "failed"
    reason: str = ""  # a person-readable reason for skipped/failed (no file content)
    chunks: int = 0


@dataclass
class _Prepared:
    path: Path
    key: str
    folder_id: int | None
    size: int
    mtime_ns: int
    content_hash: str
    truncated: bool
    chunks: list[Chunk]
    old_id: int | None
    vectors: list[np.ndarray | None] = field(default_factory=list)


def _embedding_progress(state: TaskState | None, total: int,
                        chunks_done: int) -> Callable[[int], None] | None:
    """Reports chunks embedded inside a running batch (its files are not committed yet)."""
    if state is None:
        return None

    def report(embedded: int) -> None:
        state.set_progress(state.progress.done, total,
                           f"{chunks_done + embedded} chunks", {"chunks": chunks_done + embedded})

    return report


def _in_input_order(outcomes: list[FileOutcome],
                    items: Sequence[tuple[Path, int | None]]) -> list[FileOutcome]:
    order = {path: index for index, (path, _) in reversed(list(enumerate(items)))}
    return sorted(outcomes, key=lambda o: order.get(o.path, len(order)))


def content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


class Ingestor:
    """Runs on the index lane only (the single writer of store.db bulk data and the ANN index)."""

    def __init__(self, store: Store, embedder: Embedder, vectors: VectorIndex,
                 settings: MemorySettings):
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.settings = settings
        self._checked = False

    # --- ingest ----------------------------------------------------------------------------

    def ingest(self, items: Sequence[tuple[Path, int | None]],
               state: TaskState | None = None) -> list[FileOutcome]:
        """(path, folder_id) pairs: stat + content hash -> extract -> chunk -> embed, batched
        across files -> ONE store transaction per batch -> then the ANN index. Idempotent by
        content hash; checks ``state.cancelled`` between files and batches (a cancelled run
        returns the outcomes of the files already written)."""
        self.ensure_ann()
        outcomes: list[FileOutcome] = []
        pending: list[_Prepared] = []
        chunks_done = 0
        total = len(items)
        for number, (path, folder_id) in enumerate(items, start=1):
            if state is not None and state.cancelled:
                return _in_input_order(outcomes, items)
            prepared = self._prepare(path, folder_id, outcomes)
            if prepared is not None:
                pending.append(prepared)
            if sum(len(p.chunks) for p in pending) >= BATCH_CHUNKS:
                if state is not None and state.cancelled:
                    return _in_input_order(outcomes, items)
                chunks_done += self._flush(pending, outcomes,
                                           _embedding_progress(state, total, chunks_done))
                pending = []
            if state is not None:
                state.set_progress(number - len(pending), total, f"{chunks_done} chunks",
                                   {"chunks": chunks_done})
                state.partial_result = outcomes
        if pending and not (state is not None and state.cancelled):
            chunks_done += self._flush(pending, outcomes,
                                       _embedding_progress(state, total, chunks_done))
        if state is not None:
            state.set_progress(total, total, f"{chunks_done} chunks", {"chunks": chunks_done})
        return _in_input_order(outcomes, items)

    def _prepare(self, path: Path, folder_id: int | None,
                 outcomes: list[FileOutcome]) -> _Prepared | None:
        key = path_to_key(path)
        try:
            info = path.stat()
            if not path.is_file():
                outcomes.append(FileOutcome(path, "skipped", "not a regular file"))
                return None
            digest = content_hash(path)
        except FileNotFoundError:
            outcomes.append(FileOutcome(path, "skipped", "file not found"))
            return None
        except OSError as exc:
            outcomes.append(FileOutcome(path, "failed", f"cannot read ({type(exc).__name__})"))
            return None
        conn = self.store.conn
        row = conn.execute("SELECT id, content_hash, embedding_model, chunk_count, size, "
                           "mtime_ns, folder_id FROM files WHERE path = ?", (key,)).fetchone()
        if row is not None and row[1] == digest and row[2] == self.embedder.name:
            if tuple(row[4:7]) != (info.st_size, info.st_mtime_ns, folder_id):
                with self.store.transaction() as tx:
                    tx.execute("UPDATE files SET size = ?, mtime_ns = ?, folder_id = ? "
                               "WHERE id = ?", (info.st_size, info.st_mtime_ns, folder_id, row[0]))
            outcomes.append(FileOutcome(path, "unchanged", chunks=int(row[3])))
            return None
        result = extract(path, self.settings.max_text_chars_per_file)
        if result.status != EXTRACTED:
            if row is not None:
                self._delete_keys([key])
            outcomes.append(FileOutcome(path, result.status, result.reason))
            return None
        chunks = chunk_pieces(result.pieces, self.settings.chunk_tokens,
                              self.settings.chunk_overlap_tokens)
        return _Prepared(path, key, folder_id, info.st_size, info.st_mtime_ns, digest,
                         result.truncated, chunks, None if row is None else int(row[0]))

    def _flush(self, batch: list[_Prepared], outcomes: list[FileOutcome],
               on_embedded: Callable[[int], None] | None = None) -> int:
        """Embed the batch (reusing stored embeddings of unchanged chunks), write it in one
        transaction, then update the ANN index."""
        conn = self.store.conn
        model = self.embedder.name
        todo: list[tuple[_Prepared, int]] = []
        for item in batch:
            reuse: dict[str, bytes] = {}
            if item.old_id is not None:
                reuse = {str(k): bytes(e) for k, e in conn.execute(
                    "SELECT c.chunk_key, c.embedding FROM chunks c JOIN files f ON f.id = "
                    "c.file_id WHERE c.file_id = ? AND f.embedding_model = ?",
                    (item.old_id, model))}
            item.vectors = [from_blob(reuse[c.key]) if c.key in reuse else None
                            for c in item.chunks]
            todo.extend((item, i) for i, v in enumerate(item.vectors) if v is None)
        if todo:
            # One embedder batch at a time, so progress moves while a batch of files is
            # being embedded.
            texts = [item.chunks[i].embedding_text() for item, i in todo]
            embedded = 0
            for rows in longest_first_batches(texts, self.settings.embedding_batch_size):
                encoded = self.embedder.encode([texts[n] for n in rows])
                for n, vector in zip(rows, encoded, strict=True):
                    item, i = todo[n]
                    item.vectors[i] = vector
                embedded += len(rows)
                if on_embedded is not None:
                    on_embedded(embedded)
        removed: list[str] = []
        added_ids: list[str] = []
        added_vectors: list[np.ndarray] = []
        now = time.time()
        with self.store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "1")
            for item in batch:
                if item.old_id is not None:
                    removed.extend(r[0] for r in tx.execute(
                        "SELECT ann_id FROM chunks WHERE file_id = ?", (item.old_id,)))
                    tx.execute("DELETE FROM chunks WHERE file_id = ?", (item.old_id,))
                file_id = tx.execute(
                    "INSERT INTO files(path, folder_id, ext, size, mtime_ns, content_hash, "
                    "indexed_at, chunk_count, truncated, embedding_model) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                    "folder_id = excluded.folder_id, ext = excluded.ext, size = excluded.size, "
                    "mtime_ns = excluded.mtime_ns, content_hash = excluded.content_hash, "
                    "indexed_at = excluded.indexed_at, chunk_count = excluded.chunk_count, "
                    "truncated = excluded.truncated, embedding_model = excluded.embedding_model "
                    "RETURNING id",
                    (item.key, item.folder_id, item.path.suffix.lower(), item.size,
                     item.mtime_ns, item.content_hash, now, len(item.chunks),
                     int(item.truncated), model)).fetchone()[0]
                for chunk, vector in zip(item.chunks, item.vectors, strict=True):
                    assert vector is not None
                    ann_id = secrets.token_hex(12)
                    tx.execute(
                        "INSERT INTO chunks(file_id, ordinal, chunk_key, ann_id, heading, page, "
                        "line_start, line_end, text, embedding) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (file_id, chunk.ordinal, chunk.key, ann_id, chunk.heading_text,
                         chunk.page, chunk.line_start, chunk.line_end, chunk.text,
                         to_blob(vector)))
                    added_ids.append(ann_id)
                    added_vectors.append(vector)
                outcomes.append(FileOutcome(item.path, "indexed", chunks=len(item.chunks)))
            if get_meta(tx, META_MODEL) is None:
                set_meta(tx, META_MODEL, model)
        self.vectors.delete(removed)
        if added_ids:
            self.vectors.add(added_ids, np.vstack(added_vectors))
        with self.store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "0")
        return len(added_ids)

    # --- removal and renames ---------------------------------------------------------------

    def _delete_keys(self, keys: Sequence[str]) -> int:
        removed: list[str] = []
        count = 0
        with self.store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "1")
            for key in keys:
                row = tx.execute("SELECT id FROM files WHERE path = ?", (key,)).fetchone()
                if row is None:
                    continue
                removed.extend(r[0] for r in tx.execute(
                    "SELECT ann_id FROM chunks WHERE file_id = ?", (row[0],)))
                tx.execute("DELETE FROM files WHERE id = ?", (row[0],))
                count += 1
        self.vectors.delete(removed)
        with self.store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "0")
        return count

    def _keys_under(self, folder: Path) -> list[str]:
        prefix = like_escape(folder_prefix(folder))
        return [str(r[0]) for r in self.store.conn.execute(
            "SELECT path FROM files WHERE path LIKE ? ESCAPE '\\'", (prefix + "%",))]

    def remove(self, path: Path) -> bool:
        """Forget one file: its row, chunks, FTS rows and vectors."""
        return self._delete_keys([path_to_key(path)]) > 0

    def remove_under(self, folder: Path) -> int:
        """Forget every file below ``folder`` (a removed library folder); returns how many."""
        return self._delete_keys(self._keys_under(folder))

    def move(self, old: Path, new: Path) -> bool:
        """A rename of a file, or of a folder (every file below it): rows move, nothing is
        re-embedded. A file already indexed at the new path is replaced."""
        old_key, new_key = path_to_key(old), path_to_key(new)
        conn = self.store.conn
        if conn.execute("SELECT 1 FROM files WHERE path = ?", (old_key,)).fetchone():
            pairs = [(old_key, new_key)]
        else:
            old_prefix, new_prefix = folder_prefix(old), folder_prefix(new)
            pairs = [(k, new_prefix + k[len(old_prefix):]) for k in self._keys_under(old)]
        pairs = [(source, target) for source, target in pairs if source != target]
        if not pairs:
            return False
        self._delete_keys([target for _, target in pairs])
        with self.store.transaction() as tx:
            for source, target in pairs:
                tx.execute("UPDATE files SET path = ?, ext = ? WHERE path = ?",
                           (target, key_to_path(target).suffix.lower(), source))
        return True

    def reembed(self, state: TaskState | None = None) -> int:
        """After a change of embedding model: embed every chunk stored under another model
        again (``reembed.reembed_all``: from store.db, resumable), then rebuild the ANN index.
        Returns the chunks re-embedded; 0 at once when every file is current."""
        from app.core.memory.reembed import needs_reembed, reembed_all

        if not needs_reembed(self):
            return 0
        self.ensure_ann()
        return reembed_all(self, state)

    # --- the ANN index ---------------------------------------------------------------------

    def model_switched(self) -> None:
        """The shared embedder now runs another model: check the ANN index again before the
        next write (it starts again for the new model, see ``ensure_ann``)."""
        self._checked = False

    def ensure_ann(self) -> None:
        """Check the ANN index once per Ingestor and model (cheap when it is consistent)."""
        if not self._checked:
            name = self.embedder.name
            if get_meta(self.store.conn, META_MODEL) not in (None, name):
                # Another model's vectors (maybe another dimension): start the index again;
                # it fills with this model's chunks, ``reembed_all`` brings the rest.
                try:
                    self.vectors.reset()
                except Exception as exc:  # a damaged index folder: start it from nothing
                    log.warning("vector index unreadable (%s); starting it again",
                                type(exc).__name__)
                    self.vectors.wipe()
                with self.store.transaction() as tx:
                    set_meta(tx, META_MODEL, name)
            self.check_ann()
            self._checked = True

    def check_ann(self, state: TaskState | None = None) -> int:
        """Make the ANN index match the store: returns how many entries were fixed."""
        conn = self.store.conn
        current = (self.embedder.name,)
        stored = int(conn.execute(f"SELECT count(*) {_CURRENT}", current).fetchone()[0])
        try:
            dirty = get_meta(conn, META_ANN_DIRTY) == "1"
            if not dirty and not self.vectors.created and self.vectors.count() == stored:
                return 0
            in_ann = self.vectors.ids()
        except Exception as exc:  # a damaged index folder: start it again
            log.warning("vector index unreadable (%s); rebuilding it", type(exc).__name__)
            self.vectors.wipe()
            return self.rebuild_ann(state)
        in_store = {str(r[0]) for r in conn.execute(f"SELECT c.ann_id {_CURRENT}", current)}
        extra = sorted(in_ann - in_store)
        missing = in_store - in_ann
        self.vectors.delete(extra)
        self._add_from_store(missing, state)
        with self.store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "0")
        if extra or missing:
            log.info("vector index repaired: %d removed, %d added", len(extra), len(missing))
        self.vectors.created = False
        return len(extra) + len(missing)

    def _add_from_store(self, only: set[str] | None, state: TaskState | None) -> int:
        conn = self.store.conn
        current = (self.embedder.name,)
        total = int(conn.execute(f"SELECT count(*) {_CURRENT}", current).fetchone()[0])
        ids: list[str] = []
        rows: list[np.ndarray] = []
        added = 0
        cursor = conn.execute(f"SELECT c.ann_id, c.embedding {_CURRENT} ORDER BY c.id", current)
        for seen, (ann_id, blob) in enumerate(cursor, start=1):
            if only is not None and ann_id not in only:
                continue
            ids.append(str(ann_id))
            rows.append(from_blob(blob))
            if len(ids) >= 2000:
                self.vectors.add(ids, np.vstack(rows))
                added += len(ids)
                ids, rows = [], []
                if state is not None:
                    state.set_progress(seen, total, "rebuilding the vector index")
                    if state.cancelled:
                        return added
        if ids:
            self.vectors.add(ids, np.vstack(rows))
            added += len(ids)
        return added

    def rebuild_ann(self, state: TaskState | None = None) -> int:
        """Drop the ANN index and fill it again from store.db (``familiar index --rebuild``);
        returns how many vectors it holds."""
        self.vectors.reset()
        with self.store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "1")
        added = self._add_from_store(None, state)
        if state is None or not state.cancelled:
            with self.store.transaction() as tx:
                set_meta(tx, META_ANN_DIRTY, "0")
        self.vectors.created = False
        self._checked = True
        return added
