"""Fusion of the dense and BM25 rankings into one.

Three methods, tuned on scifact train, msmarco-5k and dbpedia-5k (see docs/memory.md):
weighted reciprocal rank fusion; a convex combination of scores normalised per query; and the
default, ``anchored``: a convex combination whose dense part is measured from the dense top
cosine in fixed units (every candidate's exact cosine, so a BM25 match that means something
else pays for its distance), and whose dense weight rises with the share of the query's words
that BM25 cannot use (function words: a question written as a sentence carries its meaning in
how its words relate, which only the embedding reads) and again with how clearly the
embedding's top candidate leads the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.core.memory.fulltext import STOPWORDS, words

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


def function_word_share(query: str) -> float:
    """The share of the query's words that are function words (BM25 drops them)."""
    found = words(query)
    return sum(w in STOPWORDS for w in found) / len(found) if found else 0.0


def query_dense_weight(query: str, base: float, low: float, high: float) -> float:
    """``base`` for a query of keywords, rising linearly to 1 (dense alone) as the
    function-word share goes from ``low`` to ``high``."""
    share = function_word_share(query)
    ramp = min(1.0, max(0.0, (share - low) / max(high - low, 1e-6)))
    return base + (1.0 - base) * ramp


def confident_dense_weight(weight: float, dense: Ranked, rank: int, span: float,
                           share: float) -> float:
    """``weight`` moved toward 1 (dense alone) by up to ``share`` of the way, in proportion
    to how far the dense top cosine stands out from the cosine at index ``rank`` of the
    dense list (all of ``share`` at a lead of ``span`` or more). When the embedding has a
    clear winner, a lexical match has less say in the order around it."""
    if share <= 0.0 or len(dense) < 2 or weight >= 1.0:
        return weight
    lead = dense[0][1] - dense[min(rank, len(dense) - 1)][1]
    return weight + (1.0 - weight) * share * min(1.0, max(0.0, lead) / max(span, 1e-6))


def anchored(dense: Ranked, bm25: Ranked, cosines: Mapping[int, float], dense_weight: float,
             scale: float, saturation: float) -> dict[int, float]:
    """Dense part ``1 - (top cosine - cosine) / scale`` (at least -1) for every candidate,
    ``cosines`` giving the exact cosine of BM25 candidates missing from ``dense``; BM25 part
    as in ``convex``. A BM25 candidate without a known cosine counts as the floor."""
    if not dense:
        return convex(dense, bm25, 0.0, saturation)
    top = dense[0][1]
    known = dict(cosines)
    known.update(dense)
    b = _bm25_norm(bm25, saturation)
    fused: dict[int, float] = {}
    for cid in known.keys() | b.keys():
        cosine = known.get(cid)
        part = -1.0 if cosine is None else max(-1.0, 1.0 - (top - cosine) / scale)
        fused[cid] = dense_weight * part + (1.0 - dense_weight) * b.get(cid, 0.0)
    return fused


def fuse(method: str, dense: Ranked, bm25: Ranked, *, k: float, dense_weight: float,
         saturation: float, scale: float,
         cosines: Mapping[int, float] | None = None) -> list[tuple[int, float]]:
    """The fused ranking, best first (ties broken by chunk id for determinism).
    ``dense_weight`` is the query's own (``query_dense_weight``) for ``anchored``."""
    if method == "dense":
        scores = {cid: s for cid, s in dense}
    elif method == "bm25":
        scores = {cid: s for cid, s in bm25}
    elif method == "convex":
        scores = convex(dense, bm25, dense_weight, saturation)
    elif method == "anchored":
        scores = (dict(dense) if dense_weight >= 1.0
                  else anchored(dense, bm25, cosines or {}, dense_weight, scale, saturation))
    elif method == "rrf":
        scores = rrf(dense, bm25, k, dense_weight)
    else:
        raise ValueError(f"unknown fusion method {method!r}")
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def lookup_first(fused: Ranked, matches: Sequence[int]) -> list[tuple[int, float]]:
    """``fused`` with the chunks of a lookup (``fulltext.lookup_matches``: the few chunks
    holding a one-word query's word) moved to the front, in their fused order. A word that
    occurs in a handful of chunks is what the user is looking for, whatever the embedding
    thinks of chunks without it (an identifier, a name, a code). Scores stay monotonic: the
    moved chunks get the best score plus their rank distance."""
    if not matches:
        return list(fused)
    wanted = set(matches)
    head = [item for item in fused if item[0] in wanted]
    present = {cid for cid, _ in head}
    head += [(cid, float("-inf")) for cid in matches if cid not in present]
    tail = [item for item in fused if item[0] not in wanted]
    top = max((score for _, score in tail), default=0.0)
    return [(cid, top + len(head) - rank) for rank, (cid, _) in enumerate(head)] + tail

