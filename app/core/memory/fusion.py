"""Fusion of the dense and BM25 rankings into one.

Two methods, chosen and tuned on scifact train, msmarco-5k and dbpedia-5k (see
docs/memory.md): weighted reciprocal rank fusion, and a convex combination of scores that are
normalised per query. Scores, not only ranks, carry how sure each side is, which keeps fusion
from falling below dense alone on paraphrased questions where BM25 finds only noise.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[int, float]]  # (chunk_id, score), best first


def rrf(dense: Ranked, bm25: Ranked, k: float = 60.0, dense_weight: float = 0.5) -> dict[int, float]:
    fused: dict[int, float] = {}
    for weight, ranking in ((dense_weight, dense), (1.0 - dense_weight, bm25)):
        for rank, (chunk_id, _score) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return fused


def _dense_norm(ranking: Ranked) -> dict[int, float]:
    """Cosine similarities are already on a common scale: shift so the worst candidate is 0
    and scale by the best's distance from it."""
    if not ranking:
        return {}
    top = ranking[0][1]
    low = min(s for _, s in ranking)
    span = max(top - low, 1e-6)
    return {cid: (s - low) / span for cid, s in ranking}


def _bm25_norm(ranking: Ranked, saturation: float) -> dict[int, float]:
    """BM25 has no fixed scale: scores divided by the query's best, then damped by how strong
    that best match is (``best / (best + saturation)``), so a weak lexical match weighs less."""
    if not ranking:
        return {}
    top = max(ranking[0][1], 1e-6)
    confidence = top / (top + saturation) if saturation > 0 else 1.0
    return {cid: confidence * max(s, 0.0) / top for cid, s in ranking}


def convex(dense: Ranked, bm25: Ranked, dense_weight: float = 0.5,
           saturation: float = 0.0) -> dict[int, float]:
    d = _dense_norm(dense)
    b = _bm25_norm(bm25, saturation)
    return {cid: dense_weight * d.get(cid, 0.0) + (1.0 - dense_weight) * b.get(cid, 0.0)
            for cid in d.keys() | b.keys()}


def fuse(method: str, dense: Ranked, bm25: Ranked, *, k: float, dense_weight: float,
         saturation: float) -> list[tuple[int, float]]:
    """The fused ranking, best first (ties broken by chunk id for determinism)."""
    if method == "dense":
        scores = {cid: s for cid, s in dense}
    elif method == "bm25":
        scores = {cid: s for cid, s in bm25}
    elif method == "convex":
        scores = convex(dense, bm25, dense_weight, saturation)
    elif method == "rrf":
        scores = rrf(dense, bm25, k, dense_weight)
    else:
        raise ValueError(f"unknown fusion method {method!r}")
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
