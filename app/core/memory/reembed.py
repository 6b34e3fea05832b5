"""A change of embedding model: every stored chunk is embedded again, in batches, from the
text in store.db (no file is re-read), each batch added to the ANN index as it is written (the
index was started again for the new model by ``Ingestor.ensure_ann``), so dense search covers
the chunks already done at any library size. Runs on the index lane; resumable (files already
done carry the new model's name) and cancellable between batches."""

from __future__ import annotations

import logging

import numpy as np

from app.core.memory.chunking import Chunk
from app.core.memory.ingest import META_ANN_DIRTY, META_MODEL, Ingestor, to_blob
from app.core.profile.store import get_meta, set_meta
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

BATCH = 256


def needs_reembed(ingestor: Ingestor) -> bool:
    conn = ingestor.store.conn
    name = ingestor.embedder.name
    stale = conn.execute("SELECT 1 FROM files WHERE chunk_count > 0 AND "
                         "coalesce(embedding_model, '') != ? LIMIT 1", (name,)).fetchone()
    return stale is not None or get_meta(conn, META_MODEL) not in (None, name)


def reembed_all(ingestor: Ingestor, state: TaskState | None = None) -> int:
    """Embed every chunk of files stored under another model; returns chunks re-embedded."""
    store = ingestor.store
    name = ingestor.embedder.name
    conn = store.conn
    stale = [int(r[0]) for r in conn.execute(
        "SELECT id FROM files WHERE coalesce(embedding_model, '') != ? ORDER BY id", (name,))]
    total = len(stale)
    done_chunks = 0
    batch: list[int] = []
    for number, file_id in enumerate(stale, start=1):
        batch.append(file_id)
        pending = conn.execute(
            f"SELECT count(*) FROM chunks WHERE file_id IN ({','.join('?' * len(batch))})",
            batch).fetchone()[0]
        if pending < BATCH and number < total:
            continue
        if state is not None and state.cancelled:
            return done_chunks
        rows = conn.execute(
            "SELECT id, ann_id, heading, text FROM chunks WHERE file_id IN "
            f"({','.join('?' * len(batch))}) ORDER BY id", batch).fetchall()
        texts = [Chunk(0, str(t), tuple(str(h).split(" > ")) if h else (), None, None, None,
                       "").embedding_text() for _, _, h, t in rows]
        vectors = ingestor.embedder.encode(texts) if texts else np.zeros((0, 1), np.float32)
        with store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "1")
            for (chunk_id, _, _, _), vector in zip(rows, vectors, strict=True):
                tx.execute("UPDATE chunks SET embedding = ? WHERE id = ?",
                           (to_blob(vector), chunk_id))
            tx.executemany("UPDATE files SET embedding_model = ? WHERE id = ?",
                           [(name, f) for f in batch])
        if rows:
            ingestor.vectors.add([str(r[1]) for r in rows], np.asarray(vectors))
        with store.transaction() as tx:
            set_meta(tx, META_ANN_DIRTY, "0")
        done_chunks += len(rows)
        batch = []
        if state is not None:
            state.set_progress(number, total, f"{done_chunks} chunks re-embedded")
    with store.transaction() as tx:
        set_meta(tx, META_MODEL, name)
    ingestor.check_ann(state)  # consistent already unless something failed part-way
    log.info("re-embedded %d chunks with the configured model", done_chunks)
    return done_chunks
