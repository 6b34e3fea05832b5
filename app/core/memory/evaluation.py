"""Retrieval evaluation on BEIR folders (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).

Documents go through the same pipeline as the user's files: each becomes a Markdown file with
the title as its heading, ingested by the Ingestor, searched by the Searcher; chunk hits are
mapped back to document ids (first hit of a document counts). Used by ``familiar bench
retrieval``; never run inside the test suite on the real sets (it embeds thousands of docs).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.memory.search import Searcher


@dataclass
class Dataset:
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_queries(folder: Path, split: str) -> Dataset:
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries: dict[str, str] = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                if str(item["_id"]) in qrels:
                    queries[str(item["_id"])] = str(item["text"])
    return Dataset(queries, {q: r for q, r in qrels.items() if q in queries})


def iter_corpus(folder: Path) -> Iterator[tuple[str, str, str]]:
    with (folder / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                yield str(item["_id"]), str(item.get("title") or ""), str(item.get("text") or "")


def write_corpus(folder: Path, target: Path) -> dict[Path, str]:
    """One Markdown file per document (title as its heading); returns path -> doc id."""
    target.mkdir(parents=True, exist_ok=True)
    mapping: dict[Path, str] = {}
    for number, (doc_id, title, text) in enumerate(iter_corpus(folder)):
        path = target / f"d{number:07d}.md"
        heading = " ".join(title.split())
        body = f"# {heading}\n\n{text}\n" if heading else f"{text}\n"
        path.write_text(body, encoding="utf-8")
        mapping[path] = doc_id
    return mapping


def files_corpus(folder: Path) -> dict[Path, str]:
    """A folder of files as a corpus: doc id = the path relative to the folder."""
    return {p: p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def evaluate(searcher: Searcher, data: Dataset, doc_of: Callable[[Path], str | None],
             method: str, depth: int = 100) -> dict[str, Any]:
    """nDCG@10, recall@100 and search latency (query embedding included) for one method."""
    ndcg: list[float] = []
    recall: list[float] = []
    times: list[float] = []
    for query_id, text in data.queries.items():
        start = time.perf_counter()
        hits = searcher.search(text, k=depth, per_file=1, method=method, snippets=False)
        times.append((time.perf_counter() - start) * 1000.0)
        ranked: list[str] = []
        for hit in hits:
            doc = doc_of(hit.path)
            if doc is not None and doc not in ranked:
                ranked.append(doc)
        ndcg.append(ndcg_at(ranked, data.qrels[query_id], 10))
        recall.append(recall_at(ranked, data.qrels[query_id], 100))
    count = max(1, len(ndcg))
    return {
        "ndcg@10": round(sum(ndcg) / count, 4),
        "recall@100": round(sum(recall) / count, 4),
        "p50_ms": round(percentile(times, 0.5), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "queries": len(ndcg),
    }


def time_app_searches(searcher: Searcher, data: Dataset, k: int = 10) -> dict[str, Any]:
    """Latency of the search the app runs (k hits, per-file cap, marked snippets), query
    embedding included: p50/p95 in ms over the dataset's queries."""
    times: list[float] = []
    for text in data.queries.values():
        start = time.perf_counter()
        searcher.search(text, k=k)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"k": k, "p50_ms": round(percentile(times, 0.5), 2),
            "p95_ms": round(percentile(times, 0.95), 2)}


def pad_store(store: Any, vectors: Any, model: str, target: int, seed: int = 0) -> int:
    """Grow the chunk store to ``target`` chunks with synthetic variants of its own chunks,
    for latency at scale: sentence order rotated and one sentence dropped (so FTS sees new
    rows with the same vocabulary), embedding plus Gaussian noise, renormalised (cosine about
    0.9 to the original). The variants belong to files that do not exist on disk and to no
    judged document: they only make the indexes bigger. Returns how many were added."""
    import re
    import secrets

    import numpy as np

    from app.core.memory.ingest import from_blob, to_blob

    conn = store.conn
    base = conn.execute("SELECT heading, text, embedding FROM chunks ORDER BY id").fetchall()
    have = len(base)
    if not base or have >= target:
        return 0
    rng = np.random.default_rng(seed)
    split = re.compile(r"(?<=[.!?])\s+")
    added = 0
    copy = 0
    while have + added < target:
        copy += 1
        with store.transaction() as tx:
            ids: list[str] = []
            rows: list[Any] = []
            for number, (heading, text, blob) in enumerate(base):
                if have + added + len(ids) >= target:
                    break
                sentences = split.split(str(text))
                if len(sentences) > 2:
                    sentences.pop(int(rng.integers(len(sentences))))
                shift = int(rng.integers(len(sentences)))
                variant = " ".join(sentences[shift:] + sentences[:shift])
                vector = from_blob(blob) + rng.normal(0, 0.023, len(blob) // 4).astype(np.float32)
                vector /= np.linalg.norm(vector)
                file_id = tx.execute(
                    "INSERT INTO files(path, ext, size, mtime_ns, content_hash, indexed_at, "
                    "chunk_count, embedding_model) VALUES (?, '.md', 0, 0, '', 0, 1, ?) "
                    "RETURNING id", (f"/nonexistent/padding/{copy}/{number}.md", model)
                ).fetchone()[0]
                ann_id = secrets.token_hex(12)
                tx.execute("INSERT INTO chunks(file_id, ordinal, chunk_key, ann_id, heading, "
                           "text, embedding) VALUES (?, 0, '', ?, ?, ?, ?)",
                           (file_id, ann_id, heading, variant, to_blob(vector)))
                ids.append(ann_id)
                rows.append(vector)
        vectors.add(ids, np.vstack(rows))
        added += len(ids)
    return added
