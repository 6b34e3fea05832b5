"""Long-term memories about the user: stored, consolidated, recalled into answers, forgotten.

Text and embeddings live only in store.db (SQLCipher); their vectors are also held in an
in-memory chroma collection rebuilt at unlock (``rebuild``), never on disk. Consolidation:

- a candidate whose nearest memory has cosine >= ``duplicate_similarity`` is the same memory
  said again: the existing one gains a mention, the candidate's evidence and the higher
  confidence (no model call);
- a candidate with related memories (cosine >= ``related_similarity``) is put to the model,
  which says whether it repeats or replaces one of them (contradiction decided by the LLM, see
  ``extraction.judge``); a replaced memory takes the newer statement's text, the newer wins;
- above ``max_memories`` the least useful are dropped (usefulness: confidence, mentions and
  recalls, decayed by age; memories the user edited are kept).

``forget`` removes a memory from the store and the in-memory vectors and tombstones every
message it came from, so extraction never brings it back from them. Any thread may call these;
the worker writes on the personal lane, the assistant recalls on the llm lane.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.assistant.rag import Recollection
from app.core.config import PersonalizationSettings
from app.core.errors import FamiliarError
from app.core.memory.embedder import Embedder
from app.core.memory.vectors import EphemeralVectors
from app.core.profile.store import Store, get_meta, set_meta

log = logging.getLogger(__name__)

KINDS = ("fact", "preference", "goal", "relationship", "other")
AGE_HALF_LIFE_DAYS = 180.0
META_MEMORY_MODEL = "memories.embedding_model"  # the model that made the stored vectors
REEMBED_BATCH = 64


class MemoryNotFound(FamiliarError):
    """A memory id that does not exist (forgotten, dropped or mistyped)."""


@dataclass(frozen=True)
class StoredMemory:
    id: int
    text: str
    kind: str
    confidence: float
    mentions: int
    recalls: int
    edited: bool
    created: float
    updated: float
    sources: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "kind": self.kind,
                "confidence": round(self.confidence, 3), "mentions": self.mentions,
                "recalls": self.recalls, "edited": self.edited, "created": self.created,
                "updated": self.updated, "sources": list(self.sources)}


@dataclass(frozen=True)
class Candidate:
    """A fact or preference the model extracted from one message."""

    text: str
    kind: str
    confidence: float
    message_id: int


# Decides, for a candidate and related memories, ("duplicate"|"replaces", id) or None (new).
Judge = Callable[[Candidate, Sequence[StoredMemory]], "tuple[str, int] | None"]


def usefulness(m: StoredMemory, now: float) -> float:
    if m.edited:
        return math.inf
    age_days = max(0.0, now - m.updated) / 86400
    decay = 0.5 ** (age_days / AGE_HALF_LIFE_DAYS)
    return float(m.confidence * (1.0 + math.log1p(m.mentions - 1) + math.log1p(m.recalls))
                 * decay)


def _memory(row: Any, sources: tuple[int, ...]) -> StoredMemory:
    mid, text, kind, confidence, mentions, recalls, edited, created, updated = row
    return StoredMemory(int(mid), str(text), str(kind), float(confidence), int(mentions),
                        int(recalls), bool(edited), float(created), float(updated), sources)


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


class MemoryBank:
    """The user's memories over ``store`` with vectors in ``vectors`` (in memory)."""

    def __init__(self, store: Store, embedder: Embedder, vectors: EphemeralVectors,
                 settings: PersonalizationSettings, clock: Callable[[], float] = time.time):
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.settings = settings
        self._clock = clock
        self._lock = threading.RLock()  # consolidation is read-modify-write
        self._built = False

    # --- reading ------------------------------------------------------------------------------

    def entries(self) -> list[StoredMemory]:
        rows = self.store.conn.execute(
            "SELECT id, text, kind, confidence, mentions, recalls, edited, created, updated "
            "FROM memories ORDER BY updated DESC, id DESC").fetchall()
        sources = self._sources([int(r[0]) for r in rows])
        return [_memory(r, sources.get(int(r[0]), ())) for r in rows]

    def get(self, memory_id: int) -> StoredMemory:
        row = self.store.conn.execute(
            "SELECT id, text, kind, confidence, mentions, recalls, edited, created, updated "
            "FROM memories WHERE id = ?", (memory_id,)).fetchone()
        if row is None:
            raise MemoryNotFound(f"no memory {memory_id}")
        return _memory(row, self._sources([memory_id]).get(memory_id, ()))

    def count(self) -> int:
        return int(self.store.conn.execute("SELECT count(*) FROM memories").fetchone()[0])

    def _sources(self, ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        out: dict[int, list[int]] = {}
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        for mid, msg in self.store.conn.execute(
                "SELECT memory_id, message_id FROM memory_evidence "
                f"WHERE memory_id IN ({marks}) ORDER BY message_id", list(ids)):
            out.setdefault(int(mid), []).append(int(msg))
        return {k: tuple(v) for k, v in out.items()}

    def tombstoned(self) -> set[int]:
        return {int(r[0]) for r in self.store.conn.execute(
            "SELECT message_id FROM memory_tombstones")}

    # --- the in-memory vectors ----------------------------------------------------------------

    def rebuild(self) -> int:
        """Load every memory's vector into the in-memory collection (at unlock), after
        embedding them again if they were embedded by another model (``reembed``)."""
        with self._lock:
            self.reembed()
            rows = self.store.conn.execute(
                "SELECT id, embedding FROM memories WHERE embedding IS NOT NULL").fetchall()
            count = self.vectors.rebuild((str(i), _vector(b)) for i, b in rows)
            self._built = True
            return count

    def reembed(self) -> int:
        """After a change of embedding model (or in a store that does not say which model
        made its memory vectors), every memory is embedded again from its text, in one
        transaction: vectors of another model would fail recall (another dimension) or
        match the wrong memories. Returns how many were embedded; 0 when current."""
        name = self.embedder.name
        with self._lock:
            if get_meta(self.store.conn, META_MEMORY_MODEL) == name:
                return 0
            rows = self.store.conn.execute("SELECT id, text FROM memories ORDER BY id").fetchall()
            texts = [str(text) for _, text in rows]
            vectors = [v for i in range(0, len(texts), REEMBED_BATCH)
                       for v in self.embedder.encode(texts[i:i + REEMBED_BATCH])]
            with self.store.transaction() as conn:
                conn.executemany("UPDATE memories SET embedding = ? WHERE id = ?",
                                 [(_blob(v), int(mid))
                                  for (mid, _), v in zip(rows, vectors, strict=True)])
                set_meta(conn, META_MEMORY_MODEL, name)
            if rows:
                log.info("embedded %d memories again for the configured embedding model",
                         len(rows))
                self._built = False  # the collection holds the old vectors until rebuilt
            return len(rows)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold recall, edits and consolidation off (a change of embedding model: the
        model and the vectors change together)."""
        with self._lock:
            yield

    def _ensure_built(self) -> None:
        if not self._built:
            self.rebuild()

    def _nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        self._ensure_built()
        return [(int(i), s) for i, s in self.vectors.query(vector, k)]

    # --- recall (the assistant's MemoryRecall) ----------------------------------------------

    def recall(self, query: str, k: int) -> list[Recollection]:
        """The memories closest to ``query`` (none when the feature is off). llm lane."""
        if not self.settings.memories_enabled or k <= 0 or not query.strip():
            return []
        with self._lock:
            self._ensure_built()
            if self.vectors.count() == 0:
                return []
            vector = self.embedder.encode([query], query=True)[0]
            found = [(i, s) for i, s in self._nearest(vector, k)
                     if s >= self.settings.recall_min_similarity]
            if not found:
                return []
            marks = ",".join("?" * len(found))
            texts = dict(self.store.conn.execute(
                f"SELECT id, text FROM memories WHERE id IN ({marks})", [i for i, _ in found]))
            with self.store.transaction() as conn:
                conn.executemany("UPDATE memories SET recalls = recalls + 1 WHERE id = ?",
                                 [(i,) for i, _ in found if i in texts])
            return [Recollection(i, texts[i], s) for i, s in found if i in texts]

    # --- user edits ---------------------------------------------------------------------------

    def edit(self, memory_id: int, text: str) -> StoredMemory:
        text = " ".join(text.split())
        if not text:
            raise FamiliarError("a memory cannot be empty; use forget to remove it")
        with self._lock:
            self.get(memory_id)
            vector = self.embedder.encode([text])[0]
            with self.store.transaction() as conn:
                conn.execute("UPDATE memories SET text = ?, edited = 1, updated = ?, "
                             "embedding = ? WHERE id = ?",
                             (text, self._clock(), _blob(vector), memory_id))
            if self._built:
                self.vectors.add([str(memory_id)], vector.reshape(1, -1))
            return self.get(memory_id)

    def forget(self, memory_id: int) -> None:
        """Gone from the store and the vectors; its messages never yield it again."""
        with self._lock:
            self.get(memory_id)
            now = self._clock()
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO memory_tombstones (message_id, created) "
                    "SELECT message_id, ? FROM memory_evidence WHERE memory_id = ?",
                    (now, memory_id))
                conn.execute("DELETE FROM memory_evidence WHERE memory_id = ?", (memory_id,))
                conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
            self.vectors.delete([str(memory_id)])

    def forget_all(self) -> int:
        ids = [m.id for m in self.entries()]
        for memory_id in ids:
            self.forget(memory_id)
        return len(ids)

    # --- consolidation (personal lane) --------------------------------------------------------

    def consolidate(self, candidates: Sequence[Candidate], judge: Judge) -> dict[str, int]:
        """Merge ``candidates`` (oldest first) into the memories; returns counts by outcome.
        ``judge`` is asked only about candidates that have related memories."""
        counts = {"added": 0, "duplicates": 0, "replaced": 0, "dropped": 0, "skipped": 0}
        s = self.settings
        blocked = self.tombstoned()
        with self._lock:
            self._ensure_built()
            for c in candidates:
                text = " ".join(c.text.split())
                if (not text or c.confidence < s.min_confidence or c.message_id in blocked):
                    counts["skipped"] += 1
                    continue
                c = Candidate(text, c.kind if c.kind in KINDS else "other",
                              float(min(1.0, max(0.0, c.confidence))), c.message_id)
                vector = self.embedder.encode([text])[0]
                near = self._nearest(vector, 3)
                if near and near[0][1] >= s.duplicate_similarity:
                    self._merge(near[0][0], c)
                    counts["duplicates"] += 1
                    continue
                related = [self.get(i) for i, sim in near if sim >= s.related_similarity]
                verdict = judge(c, related) if related else None
                if verdict is not None and verdict[1] in {m.id for m in related}:
                    if verdict[0] == "duplicate":
                        self._merge(verdict[1], c)
                        counts["duplicates"] += 1
                        continue
                    if verdict[0] == "replaces":
                        self._replace(verdict[1], c, vector)
                        counts["replaced"] += 1
                        continue
                self._add(c, vector)
                counts["added"] += 1
            counts["dropped"] = self._apply_cap()
        return counts

    def _add(self, c: Candidate, vector: np.ndarray) -> int:
        now = self._clock()
        with self.store.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO memories (text, kind, confidence, created, updated, embedding) "
                "VALUES (?,?,?,?,?,?)", (c.text, c.kind, c.confidence, now, now, _blob(vector)))
            memory_id = int(cur.lastrowid)
            conn.execute("INSERT OR IGNORE INTO memory_evidence (memory_id, message_id) "
                         "VALUES (?, ?)", (memory_id, c.message_id))
        self.vectors.add([str(memory_id)], vector.reshape(1, -1))
        return memory_id

    def _merge(self, memory_id: int, c: Candidate) -> None:
        with self.store.transaction() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO memory_evidence (memory_id, message_id) "
                               "VALUES (?, ?)", (memory_id, c.message_id))
            if cur.rowcount:  # the same message seen again (a resumed batch) is no new mention
                conn.execute("UPDATE memories SET mentions = mentions + 1, updated = ?, "
                             "confidence = max(confidence, ?) WHERE id = ?",
                             (self._clock(), c.confidence, memory_id))

    def _replace(self, memory_id: int, c: Candidate, vector: np.ndarray) -> None:
        """The newer statement wins: same memory, new text, kind and vector."""
        with self.store.transaction() as conn:
            conn.execute("UPDATE memories SET text = ?, kind = ?, confidence = ?, updated = ?, "
                         "edited = 0, embedding = ? WHERE id = ?",
                         (c.text, c.kind, c.confidence, self._clock(), _blob(vector),
                          memory_id))
            conn.execute("INSERT OR IGNORE INTO memory_evidence (memory_id, message_id) "
                         "VALUES (?, ?)", (memory_id, c.message_id))
        self.vectors.add([str(memory_id)], vector.reshape(1, -1))

    def _apply_cap(self) -> int:
        cap = self.settings.max_memories
        memories = self.entries()
        if cap <= 0 or len(memories) <= cap:
            return 0
        now = self._clock()
        ranked = sorted(memories, key=lambda m: (usefulness(m, now), m.updated, m.id))
        dropped = ranked[: len(memories) - cap]
        ids = [m.id for m in dropped]
        with self.store.transaction() as conn:
            conn.executemany("DELETE FROM memory_evidence WHERE memory_id = ?",
                             [(i,) for i in ids])
            conn.executemany("DELETE FROM memories WHERE id = ?", [(i,) for i in ids])
        self.vectors.delete([str(i) for i in ids])
        return len(ids)
