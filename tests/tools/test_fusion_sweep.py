"""The offline fusion sweep scores a setting exactly as the app's fusion ranks."""

from __future__ import annotations

import importlib.util
import random
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.config import MemorySettings
from app.core.memory.evaluation import ndcg_at
from app.core.memory.fusion import confident_dense_weight, fuse, query_dense_weight

_PATH = Path(__file__).resolve().parents[2] / "tools" / "fusion_sweep.py"
_SPEC = importlib.util.spec_from_file_location("fusion_sweep", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
sweep = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = sweep  # dataclasses look their module up
_SPEC.loader.exec_module(sweep)

WORDS = "how do I find the heron that fishes at dawn near a river of my notes".split()


def app_ranking(item: dict, s: MemorySettings, method: str) -> list[int]:
    """What ``Searcher.search`` ranks for ``method`` (``anchored`` weights as it computes them)."""
    dense, bm25 = item["dense"], item["bm25"]
    weight = confident_dense_weight(
        query_dense_weight(item["text"], s.anchored_dense_weight, s.function_words_low,
                           s.function_words_high),
        dense, s.dense_lead_rank, s.dense_lead_span, s.dense_lead_share)
    cosines = dict(item["cosines"]) if weight < 1.0 else {}
    fused = fuse(method, dense, bm25, k=s.rrf_k, dense_weight=weight,
                 saturation=s.bm25_saturation, scale=s.anchored_scale, cosines=cosines)
    return [cid for cid, _ in fused]


def synthetic(rng: random.Random, number: int) -> dict:
    chunks = rng.sample(range(1, 400), 60)
    dense_ids = chunks[:rng.randint(0, 40)]
    dense = sorted(((c, rng.uniform(0.1, 0.8)) for c in dense_ids), key=lambda r: -r[1])
    bm25_ids = rng.sample(chunks[20:] + dense_ids[:5], rng.randint(1, 30))
    bm25 = sorted(((c, rng.uniform(1.0, 25.0)) for c in bm25_ids), key=lambda r: -r[1])
    known = dict(dense)
    cosines = [(c, rng.uniform(0.0, 0.7)) for c, _ in bm25 if c not in known and rng.random() < 0.9]
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 9)))
    return {"id": f"q{number}", "text": text, "dense": dense, "bm25": bm25, "cosines": cosines}


@pytest.mark.parametrize("seed", range(6))
def test_sweep_scores_settings_as_the_app_ranks(seed: int) -> None:
    rng = random.Random(seed)
    items = [synthetic(rng, n) for n in range(40)]
    doc_of = {c: f"d{c % 97}" for c in range(1, 400)}  # several chunks per document
    qrels = {item["id"]: {f"d{rng.randrange(97)}": rng.choice((1, 2)) for _ in range(3)}
             for item in items}
    prepared = sweep.prepare(items, qrels, doc_of)
    base = MemorySettings()
    for changed in ({}, {"anchored_dense_weight": 0.6, "anchored_scale": 0.25},
                    {"dense_lead_share": 0.0}, {"dense_lead_share": 1.0, "dense_lead_rank": 1},
                    {"bm25_saturation": 0.0, "function_words_low": 0.0}):
        s = replace(base, **changed)
        for method in ("anchored", "dense", "bm25"):
            expected = []
            for item in items:
                docs: list[str] = []
                for cid in app_ranking(item, s, method):
                    if doc_of[cid] not in docs:
                        docs.append(doc_of[cid])
                expected.append(ndcg_at(docs, qrels[item["id"]], 10))
            assert sweep.ndcg(prepared, s, method) == pytest.approx(sum(expected) / len(items))


def test_sweep_refuses_a_setting_it_does_not_sweep(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not swept"):
        sweep.main(["sweep", str(tmp_path / "none.json.gz"), "--grid", '{"rrf_k": [1]}'])
