"""Hybrid search: FTS5 BM25 and dense (ANN) candidates fused into one ranking, with filters
(folder, file type, modified since), at most N chunks per file and marked snippets.

Read-only over store.db and the ANN index, so any thread may search (each thread has its own
store connection; the embedder serialises its own use). Keep it off the GUI thread: the first
search loads the embedding model.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.config import MemorySettings
from app.core.memory import fulltext
from app.core.memory.embedder import Embedder
from app.core.memory.fusion import confident_dense_weight, fuse, lookup_first, query_dense_weight
from app.core.memory.ingest import from_blob
from app.core.memory.paths import folder_prefix, key_to_path, like_escape, path_to_key
from app.core.memory.vectors import VectorIndex

MARK_OPEN, MARK_CLOSE = "**", "**"
EXACT_MAX = 20_000  # filtered sets up to this size are searched exactly, not through the ANN
SNIPPET_WORDS = 28


@dataclass(frozen=True)
class Filters:
    folders: tuple[Path, ...] = ()  # files in any of these folders
    types: tuple[str, ...] = ()  # extensions, with or without the dot
    since_ns: int | None = None  # files modified at or after this time
    paths: tuple[Path, ...] = ()  # only these files (e.g. a file dropped onto the chat)

    def sql(self) -> tuple[str, list[Any]]:
        """A condition on ``f`` (files) and its parameters; "" when there is no filter."""
        parts: list[str] = []
        params: list[Any] = []
        if self.folders:
            like = " OR ".join(["f.path LIKE ? ESCAPE '\\'"] * len(self.folders))
            parts.append(f"({like})")
            params.extend(like_escape(folder_prefix(f)) + "%" for f in self.folders)
        if self.types:
            exts = sorted({("." + t.lower().lstrip(".")) for t in self.types})
            parts.append(f"f.ext IN ({','.join('?' * len(exts))})")
            params.extend(exts)
        if self.since_ns is not None:
            parts.append("f.mtime_ns >= ?")
            params.append(self.since_ns)
        if self.paths:
            parts.append(f"f.path IN ({','.join('?' * len(self.paths))})")
            params.extend(path_to_key(p) for p in self.paths)
        return " AND ".join(parts), params


PARAGRAPH_NUMBERED = frozenset((".docx", ".odt"))  # line ranges there are paragraph numbers


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    path: Path
    score: float
    heading: str
    page: int | None
    line_start: int | None
    line_end: int | None
    snippet: str
    text: str
    ranks: dict[str, int | None] = field(default_factory=dict)

    @property
    def location(self) -> str:
        """How to cite the hit: "page 12", "Setup > Linux", "lines 3-9" ("paragraphs 3-9" in
        a word-processor document, whose extractor numbers paragraphs, not lines)."""
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.heading:
            parts.append(self.heading)
        if not parts and self.line_start is not None:
            unit = "paragraphs" if self.path.suffix.lower() in PARAGRAPH_NUMBERED else "lines"
            span = (str(self.line_start) if self.line_end in (None, self.line_start)
                    else f"{self.line_start}-{self.line_end}")
            parts.append(f"{unit[:-1] if span.isdigit() else unit} {span}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "score": round(self.score, 6), "page": self.page,
                "heading": self.heading, "line_start": self.line_start,
                "line_end": self.line_end, "location": self.location, "snippet": self.snippet,
                "chunk_id": self.chunk_id}


class Searcher:
    """Hybrid search over the file chunks. ``method`` overrides the fusion setting (the bench
    uses "dense" and "bm25" to show what fusion adds)."""

    def __init__(self, store: Any, embedder: Embedder, vectors: VectorIndex,
                 settings: MemorySettings):
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.settings = settings
        self._executor: ThreadPoolExecutor | None = None
        self._aside_lock = threading.Lock()

    def search(self, query: str, k: int = 10, filters: Filters | None = None,
               per_file: int | None = None, method: str | None = None,
               snippets: bool = True) -> list[Hit]:
        query = query.strip()
        if not query or k <= 0:
            return []
        s = self.settings
        method = method or s.fusion
        filters = filters or Filters()
        per_file = per_file or s.max_chunks_per_file
        depth = max(s.fusion_candidates, 3 * k)
        where, params = filters.sql()
        conn = self.store.conn
        dense: list[tuple[int, float]] = []
        bm25: list[tuple[int, float]] = []
        lookup: list[int] = []
        lexical: Future[tuple[list[tuple[int, float]], list[int]]] | None = None
        if method != "dense":
            # BM25 runs on the searcher's own thread (its own store connection) while this
            # one embeds the query and asks the ANN index: both release the GIL.
            lexical = self._aside().submit(self._lexical, query, depth, where, params,
                                           method != "bm25")
        try:
            if method != "bm25":
                vector = self.embedder.encode([query], query=True)[0]
                dense = self.dense_candidates(conn, vector, depth, where, params)
        finally:
            if lexical is not None:
                bm25, lookup = lexical.result()
        weight = s.dense_weight
        cosines: dict[int, float] = {}
        if method == "anchored":
            weight = query_dense_weight(query, s.anchored_dense_weight, s.function_words_low,
                                        s.function_words_high)
            weight = confident_dense_weight(weight, dense, s.dense_lead_rank,
                                            s.dense_lead_span, s.dense_lead_share)
            if dense and weight < 1.0:
                cosines = self.cosines_of(conn, vector, {c for c, _ in bm25} - dict(dense).keys())
        fused = fuse(method, dense, bm25, k=s.rrf_k, dense_weight=weight,
                     saturation=s.bm25_saturation, cosines=cosines, scale=s.anchored_scale)
        fused = lookup_first(fused, lookup)
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        bm25_rank = {cid: r for r, (cid, _) in enumerate(bm25, start=1)}
        return self._hits(conn, query, fused, k, per_file, dense_rank, bm25_rank, snippets)

    def _aside(self) -> ThreadPoolExecutor:
        with self._aside_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1,
                                                    thread_name_prefix="search-lexical")
            return self._executor

    def _lexical(self, query: str, depth: int, where: str, params: Sequence[Any],
                 lookup: bool) -> tuple[list[tuple[int, float]], list[int]]:
        """BM25's candidates and, for a fused ranking, the chunks of a one-word lookup."""
        s = self.settings
        conn = self.store.conn
        ranked = fulltext.bm25_search(conn, query, depth, where, params,
                                      s.bm25_heading_weight, 1.0, s.bm25_postings_budget)
        found = (fulltext.lookup_matches(conn, query, s.lookup_max_matches, where, params)
                 if lookup and ranked else [])
        return ranked, found

    def close(self) -> None:
        """Stop the lexical thread (its store connection closes with the store)."""
        with self._aside_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def dense_candidates(self, conn: Any, vector: np.ndarray, depth: int, where: str,
                         params: Sequence[Any]) -> list[tuple[int, float]]:
        """The ``depth`` chunks nearest to ``vector`` among those matching ``where``,
        ``(chunk_id, cosine)`` best first: exact over the stored embeddings when the filter
        leaves few chunks, else from the ANN index."""
        if where:
            count = conn.execute("SELECT count(*) FROM chunks c JOIN files f ON f.id = "
                                 f"c.file_id WHERE {where}", params).fetchone()[0]
            if count <= EXACT_MAX:
                return self._exact(conn, vector, depth, where, params)
        fetch = depth * (8 if where else 1)
        try:
            found = self.vectors.query(vector, fetch)
        except Exception:  # e.g. the index holds another model's dimension (re-embed pending)
            found = []
        if not found:
            total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            return self._exact(conn, vector, depth, where, params) if total <= EXACT_MAX else []
        by_ann = dict(found)
        marks = ",".join("?" * len(found))
        join = "JOIN files f ON f.id = c.file_id " if where else ""
        sql = (f"SELECT c.id, c.ann_id FROM chunks c {join}"
               f"WHERE c.ann_id IN ({marks}){' AND ' + where if where else ''}")
        rows = conn.execute(sql, (*by_ann, *params)).fetchall()
        ranked = sorted(((int(cid), by_ann[aid]) for cid, aid in rows), key=lambda r: -r[1])
        return ranked[:depth]

    def cosines_of(self, conn: Any, vector: np.ndarray, chunk_ids: set[int]) -> dict[int, float]:
        """The exact cosine of each given chunk, from its stored embedding."""
        if not chunk_ids:
            return {}
        ids = sorted(chunk_ids)
        rows = conn.execute(f"SELECT id, embedding FROM chunks WHERE id IN "
                            f"({','.join('?' * len(ids))})", ids)
        found, scores = _score_rows(rows, vector)
        return {cid: float(score) for cid, score in zip(found, scores, strict=True)}

    def _exact(self, conn: Any, vector: np.ndarray, depth: int, where: str,
               params: Sequence[Any]) -> list[tuple[int, float]]:
        sql = ("SELECT c.id, c.embedding FROM chunks c JOIN files f ON f.id = c.file_id"
               + (f" WHERE {where}" if where else ""))
        ids, scores = _score_rows(conn.execute(sql, params), vector)
        order = np.argsort(-scores, kind="stable")[:depth]
        return [(ids[i], float(scores[i])) for i in order]

    def _hits(self, conn: Any, query: str, fused: list[tuple[int, float]], k: int,
              per_file: int, dense_rank: dict[int, int], bm25_rank: dict[int, int],
              snippets: bool) -> list[Hit]:
        if not fused:
            return []
        # The files of the leading candidates (for the per-file cap), a page at a time, then
        # text and location for the k chosen only: reading every candidate's row would cost
        # more than the search.
        chosen: list[tuple[int, float]] = []
        per: dict[int, int] = {}
        page = max(4 * k, 40)
        for start in range(0, len(fused), page):
            window = fused[start:start + page]
            file_of = {int(cid): int(fid) for cid, fid in conn.execute(
                f"SELECT id, file_id FROM chunks WHERE id IN ({','.join('?' * len(window))})",
                [cid for cid, _ in window])}
            for cid, score in window:
                file_id = file_of.get(cid)
                if file_id is None or per.get(file_id, 0) >= per_file:
                    continue
                per[file_id] = per.get(file_id, 0) + 1
                chosen.append((cid, score))
                if len(chosen) >= k:
                    break
            if len(chosen) >= k:
                break
        if not chosen:
            return []
        marks = ",".join("?" * len(chosen))
        info = {int(r[0]): r for r in conn.execute(
            "SELECT c.id, c.file_id, f.path, c.heading, c.page, c.line_start, c.line_end, "
            f"c.text FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})",
            [cid for cid, _ in chosen])}
        chosen = [(cid, score) for cid, score in chosen if cid in info]
        marked = (fulltext.snippets(conn, query, {c: (info[c][3], info[c][7]) for c, _ in chosen},
                                    MARK_OPEN, MARK_CLOSE) if snippets else {})
        hits = []
        for cid, score in chosen:
            _, _, key, heading, page, start, end, text = info[cid]
            snippet = marked.get(cid) or (fallback_snippet(text, query) if snippets else "")
            hits.append(Hit(cid, key_to_path(key), score, heading, page, start, end, snippet,
                            text, {"dense": dense_rank.get(cid), "bm25": bm25_rank.get(cid)}))
        return hits


def _score_rows(rows: Any, vector: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Chunk ids and the cosines of their stored embeddings, from ``(id, embedding)`` rows;
    embeddings of another dimension (a re-embed in progress) are skipped."""
    ids: list[int] = []
    vecs: list[np.ndarray] = []
    for cid, blob in rows:
        vec = from_blob(blob)
        if vec.shape[0] == vector.shape[0]:
            ids.append(int(cid))
            vecs.append(vec)
    if not ids:
        return [], np.zeros(0, dtype=np.float32)
    return ids, np.vstack(vecs) @ vector.astype(np.float32)


def fallback_snippet(text: str, query: str, words: int = SNIPPET_WORDS) -> str:
    """The opening words of a chunk that FTS5 did not match, query words marked anyway."""
    tokens = text.split()
    head = " ".join(tokens[:words]) + (" …" if len(tokens) > words else "")
    terms = fulltext.query_terms(query)
    if not terms:
        return head
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: f"{MARK_OPEN}{m.group(0)}{MARK_CLOSE}", head)
