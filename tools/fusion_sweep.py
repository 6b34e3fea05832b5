"""Sweep the settings of ``anchored`` fusion offline, as docs/memory.md ("How it was chosen")
describes: candidate lists are dumped once from bench profiles, then every setting of a grid
is scored from them in a fraction of a second, exactly as ``Searcher.search`` would rank
(``tests/tools/test_fusion_sweep.py`` checks that against ``fusion.fuse``).

    familiar bench retrieval --dataset DIR [--split S] [--corpus-dir D] --workdir W
    python tools/fusion_sweep.py dump --workdir W --dataset DIR [--split S] [--corpus-dir D] \\
        --out sets/NAME.json.gz
    python tools/fusion_sweep.py sweep sets/*.json.gz --grid '{"anchored_dense_weight": [0.35, 0.5]}' \\
        [--tune scifact-train,msmarco-5k,dbpedia-5k]

``sweep`` prints one JSON line per setting (nDCG@10 per set, by file name without its
suffixes), dense and BM25 alone first; with ``--tune`` the settings are ordered by their
worst-case margin over the better input on those sets. Only for public bench data: a dump
holds chunk ids, scores and judged document ids, no text.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import MemorySettings  # noqa: E402
from app.core.memory.fusion import confident_dense_weight, query_dense_weight  # noqa: E402

DEPTH = MemorySettings().fusion_candidates  # what a search asks of each side (k <= 100)
SWEPT = ("anchored_dense_weight", "anchored_scale", "bm25_saturation", "function_words_low",
         "function_words_high", "dense_lead_rank", "dense_lead_span", "dense_lead_share")
_DISCOUNT = 1.0 / np.log2(np.arange(2, 12))


@dataclass
class Query:
    """One query's candidates: the union of the dense and BM25 lists (judged documents only)."""
    chunk: np.ndarray  # chunk ids
    cosine: np.ndarray  # exact cosine (nan when unknown)
    bm25: np.ndarray  # BM25 score, 0 when BM25 did not return the chunk
    in_dense: np.ndarray  # returned by the dense side
    in_bm25: np.ndarray  # returned by BM25
    doc: np.ndarray  # document number
    gain: np.ndarray  # relevance of the chunk's document
    ideal: float  # ideal DCG@10
    text: str  # the query
    dense: list[tuple[int, float]]  # the dense list, best first


def dump(args: argparse.Namespace) -> int:
    from app.commands.bench_retrieval import _open_profile, corpus_mapping
    from app.core.memory import evaluation, fulltext
    from app.core.memory.paths import key_to_path
    from app.core.memory.service import Memory

    data = evaluation.load_queries(args.dataset, args.split)
    settings = MemorySettings()
    profile, fresh = _open_profile(args.workdir)
    if fresh:
        raise SystemExit(f"{args.workdir} holds no bench profile: run familiar bench retrieval "
                         "--workdir first")
    memory = Memory(profile.home, profile.store, profile.subkey("vectors"), settings)
    try:
        by_path = {str(p): d for p, d in
                   corpus_mapping(args.dataset, args.workdir, args.corpus_dir, False).items()}
        conn = memory.store.conn
        doc_of = {int(cid): by_path.get(str(key_to_path(key))) for cid, key in conn.execute(
            "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id")}
        searcher = memory.searcher
        queries: list[dict[str, Any]] = []
        for query_id, text in data.queries.items():
            vector = memory.embedder.encode([text], query=True)[0]
            dense = searcher.dense_candidates(conn, vector, DEPTH, "", [])
            bm25 = fulltext.bm25_search(conn, text, DEPTH, "", [], settings.bm25_heading_weight,
                                        1.0, settings.bm25_postings_budget)
            cosines = searcher.cosines_of(conn, vector, {c for c, _ in bm25} - dict(dense).keys())
            queries.append({"id": query_id, "text": text, "dense": dense, "bm25": bm25,
                            "cosines": sorted(cosines.items())})
    finally:
        memory.close()
        profile.lock()
    wanted = {c for q in queries for side in ("dense", "bm25") for c, _ in q[side]}
    payload = {"queries": queries, "qrels": data.qrels,
               "doc_of": {str(c): doc_of.get(c) for c in sorted(wanted)}}
    with gzip.open(args.out, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle)
    print(f"{len(queries)} queries -> {args.out}")
    return 0


def load(path: Path) -> list[Query]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    return prepare(payload["queries"], payload["qrels"],
                   {int(c): d for c, d in payload["doc_of"].items()})


def prepare(queries: list[dict[str, Any]], qrels: dict[str, dict[str, int]],
            doc_of: dict[int, str | None]) -> list[Query]:
    numbers: dict[str, int] = {}
    prepared = []
    for item in queries:
        dense = [(int(c), float(s)) for c, s in item["dense"]]
        bm25 = dict((int(c), float(s)) for c, s in item["bm25"])
        exact_dense = dict(dense)
        exact = dict(dense)
        exact.update((int(c), float(s)) for c, s in item["cosines"])
        ids = [c for c in dict.fromkeys([c for c, _ in dense] + list(bm25))
               if doc_of.get(c) is not None]
        relevant = qrels[item["id"]]
        ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:10]
        prepared.append(Query(
            chunk=np.array(ids, dtype=np.int64),
            cosine=np.array([exact.get(c, math.nan) for c in ids]),
            bm25=np.array([max(bm25.get(c, 0.0), 0.0) for c in ids]),
            in_dense=np.array([c in exact_dense for c in ids], dtype=bool),
            in_bm25=np.array([c in bm25 for c in ids], dtype=bool),
            doc=np.array([numbers.setdefault(str(doc_of[c]), len(numbers)) for c in ids]),
            gain=np.array([float(relevant.get(str(doc_of[c]), 0)) for c in ids]),
            ideal=sum(g / math.log2(i + 2) for i, g in enumerate(ideal)),
            text=item["text"],
            dense=dense))
    return prepared


def scores(query: Query, s: MemorySettings, method: str = "anchored") -> np.ndarray:
    """Each candidate's fused score, as ``fusion.fuse`` gives it for ``method``; -inf for a
    candidate the method does not rank."""
    if method == "dense":
        return np.where(query.in_dense, query.cosine, -np.inf)
    if method == "bm25" or not query.dense:
        return np.where(query.in_bm25, query.bm25, -np.inf)
    weight = confident_dense_weight(
        query_dense_weight(query.text, s.anchored_dense_weight, s.function_words_low,
                           s.function_words_high),
        query.dense, s.dense_lead_rank, s.dense_lead_span, s.dense_lead_share)
    if weight >= 1.0:
        return np.where(query.in_dense, query.cosine, -np.inf)
    part = np.where(np.isnan(query.cosine), -1.0, np.maximum(
        -1.0, 1.0 - (query.dense[0][1] - query.cosine) / s.anchored_scale))
    top = max(float(query.bm25.max()), 1e-6)
    confidence = top / (top + s.bm25_saturation) if s.bm25_saturation > 0 else 1.0
    return weight * part + (1.0 - weight) * confidence * query.bm25 / top


def ranked_docs(query: Query, score: np.ndarray, k: int = 10) -> np.ndarray:
    """The first k documents of the ranking (ties by chunk id, one hit per document)."""
    order = np.lexsort((query.chunk, -score))
    order = order[np.isfinite(score[order])]
    _, first = np.unique(query.doc[order], return_index=True)
    return np.asarray(order[np.sort(first)[:k]])


def ndcg(queries: list[Query], s: MemorySettings, method: str = "anchored") -> float:
    total = 0.0
    for q in queries:
        gains = q.gain[ranked_docs(q, scores(q, s, method))]
        total += float((gains * _DISCOUNT[:len(gains)]).sum() / q.ideal) if q.ideal > 0 else 0.0
    return total / max(1, len(queries))


def sweep(args: argparse.Namespace) -> int:
    grid: dict[str, list[Any]] = json.loads(args.grid)
    unknown = set(grid) - set(SWEPT)
    if unknown:
        raise SystemExit(f"not swept: {', '.join(sorted(unknown))} (one of {', '.join(SWEPT)})")
    sets = {Path(p).name.split(".")[0]: load(Path(p)) for p in args.sets}
    inputs = {m: {n: round(ndcg(q, MemorySettings(), m), 4) for n, q in sets.items()}
              for m in ("dense", "bm25")}
    for method, row in inputs.items():
        print(json.dumps({"method": method, "ndcg@10": row}))
    rows = []
    for values in itertools.product(*grid.values()):
        changed = dict(zip(grid, values, strict=True))
        s = MemorySettings(**{**asdict(MemorySettings()), **changed})
        rows.append((changed, {n: round(ndcg(q, s), 4) for n, q in sets.items()}))
    tune = [t for t in (args.tune or "").split(",") if t]
    if tune:
        better = {n: max(inputs["dense"][n], inputs["bm25"][n]) for n in tune}
        rows.sort(key=lambda r: -min(r[1][n] - better[n] for n in tune))
    for changed, row in rows:
        print(json.dumps({"method": "anchored", "settings": changed, "ndcg@10": row}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="candidate lists of a bench profile's queries")
    d.add_argument("--workdir", type=Path, required=True)
    d.add_argument("--dataset", type=Path, required=True)
    d.add_argument("--split", default="test")
    d.add_argument("--corpus-dir", type=Path, default=None)
    d.add_argument("--out", type=Path, required=True)
    w = sub.add_parser("sweep", help="score a grid of settings on dumped sets")
    w.add_argument("sets", nargs="+")
    w.add_argument("--grid", default="{}", help="JSON: setting name -> list of values")
    w.add_argument("--tune", default="", help="comma-separated set names to order by")
    args = parser.parse_args(argv)
    return dump(args) if args.command == "dump" else sweep(args)


if __name__ == "__main__":
    raise SystemExit(main())
