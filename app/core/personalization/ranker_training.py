"""Turning the user's feedback into reranker training data, and training it in idle time.

Labels per (answer, chunk shown with it): a source marked "relevant" or opened is positive;
"not relevant" is negative; a thumbs-up makes the answer's cited sources positive, a
thumbs-down negative (explicit marks win). When an answer has a positive, the other sources
shown with it count as negatives (the user saw them and chose another). Features are taken
once per answer by re-running the plain search for its question (the index may have moved on;
a labelled chunk no longer among the candidates is left out) and kept in ``ranker_examples``;
labels and counts are read fresh at every training, so a changed thumb counts.

``RankerTrainer`` is an ``IdleTask`` (personal lane): each step featurizes a few answers, the
last one trains and swaps the model into the ``RerankingSearcher``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.core.personalization.ranker import (
    MODEL_KEY,
    Beside,
    Counts,
    RankerModel,
    RawFeatures,
    RerankingSearcher,
    beside_liked,
    fit,
    raw_features,
    vectorize,
)
from app.core.personalization.state import PersonalState
from app.core.tasks import TaskState

SIGNATURE_KEY = "ranker.signature"
FEATURIZE_PER_STEP = 10
NO_FEATURES = 0  # a marker row: the answer was looked at and gave no example


def labels(store: Any) -> dict[int, dict[int, int]]:
    """message id -> {chunk id: +1 | -1 | 0} for every answer with feedback."""
    out: dict[int, dict[int, int]] = {}
    explicit: dict[int, dict[int, int]] = {}
    for mid, cid, kind in store.conn.execute(
            "SELECT message_id, chunk_id, kind FROM source_feedback WHERE chunk_id IS NOT NULL "
            "ORDER BY id"):
        marks = explicit.setdefault(int(mid), {})
        if kind == "not_relevant" or marks.get(int(cid)) != -1:  # "not relevant" wins
            marks[int(cid)] = -1 if kind == "not_relevant" else 1
    rated = {int(m): int(f) for m, f in store.conn.execute(
        "SELECT id, feedback FROM messages WHERE feedback != 0 AND role = 'assistant'")}
    shown: dict[int, list[int]] = {}
    ids = set(explicit) | set(rated)
    for mid in ids:
        row = store.conn.execute("SELECT citations FROM messages WHERE id = ?", (mid,)).fetchone()
        if row is None:
            continue
        cites = [c for c in json.loads(row[0]) if c.get("kind") == "file" and c.get("chunk_id")]
        shown[mid] = [int(c["chunk_id"]) for c in cites]
        thumb = rated.get(mid, 0)
        result: dict[int, int] = {}
        for c in cites:
            if thumb and c.get("cited", True):
                result[int(c["chunk_id"])] = thumb
        result.update(explicit.get(mid, {}))
        if any(v > 0 for v in result.values()):
            for cid in shown[mid]:
                result.setdefault(cid, 0)
        out[mid] = result
    return out


def signature(store: Any) -> list[Any]:
    conn = store.conn
    return [list(conn.execute("SELECT count(*), coalesce(max(id), 0) FROM source_feedback")
                 .fetchone()),
            list(conn.execute("SELECT count(*), coalesce(sum(feedback * id), 0) FROM messages "
                              "WHERE feedback != 0").fetchone())]


class RankerTrainer:
    """The idle task that featurizes new feedback and refits the reranker."""

    name = "reranker"

    def __init__(self, store: Any, plain_searcher: Callable[[], Any],
                 reranking: RerankingSearcher, state_store: PersonalState,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self._plain = plain_searcher
        self.reranking = reranking
        self.state_store = state_store
        self._clock = clock

    def load(self) -> RankerModel | None:
        raw = self.state_store.get(MODEL_KEY)
        model = RankerModel.from_json(raw) if raw else None
        self.reranking.set_model(model)
        return model

    def reset(self) -> None:
        """Forget the learned ranking (examples stay, so the next idle session retrains)."""
        self.state_store.delete(MODEL_KEY)
        self.state_store.delete(SIGNATURE_KEY)
        self.reranking.set_model(None)

    def _unfeaturized(self, labelled: dict[int, dict[int, int]]) -> list[int]:
        done = {int(r[0]) for r in self.store.conn.execute(
            "SELECT DISTINCT message_id FROM ranker_examples")}
        return sorted(m for m in labelled if m not in done)

    def pending(self) -> bool:
        if not self.reranking.settings.reranker_enabled:
            return False
        current = signature(self.store)
        if current == [[0, 0], [0, 0]] and self.state_store.get(MODEL_KEY) is None:
            return False  # no feedback yet
        return bool(self.state_store.get(SIGNATURE_KEY) != current)

    def step(self, state: TaskState) -> dict[str, Any]:
        labelled = labels(self.store)
        todo = self._unfeaturized(labelled)
        if todo:
            for mid in todo[:FEATURIZE_PER_STEP]:
                state.raise_if_cancelled()
                self._featurize(mid)
            return {"featurized": min(len(todo), FEATURIZE_PER_STEP),
                    "to_featurize": max(0, len(todo) - FEATURIZE_PER_STEP)}
        sig = signature(self.store)
        summary = self.train(labelled)
        state.raise_if_cancelled()
        self.state_store.set(SIGNATURE_KEY, sig)
        return summary

    def _question(self, message_id: int) -> str | None:
        row = self.store.conn.execute(
            "SELECT text FROM messages WHERE role = 'user' AND conversation_id = "
            "(SELECT conversation_id FROM messages WHERE id = ?) AND id < ? "
            "ORDER BY id DESC LIMIT 1", (message_id, message_id)).fetchone()
        return str(row[0]) if row else None

    def _featurize(self, message_id: int) -> int:
        question = self._question(message_id)
        rows: list[tuple[int, int, str, float]] = []
        now = self._clock()
        if question:
            hits = self._plain().search(question, k=self.reranking.settings.ranker_candidates,
                                        snippets=False)
            for hit, raw in zip(hits, raw_features(self.store, hits), strict=True):
                rows.append((message_id, int(hit.chunk_id), json.dumps(raw.to_json()), now))
        if not rows:
            rows.append((message_id, NO_FEATURES, "{}", now))
        with self.store.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO ranker_examples (message_id, chunk_id, "
                             "features, created) VALUES (?,?,?,?)", rows)
        return len(rows)

    def examples(self, labelled: dict[int, dict[int, int]]
                 ) -> list[tuple[int, RawFeatures, int]]:
        out = []
        for mid, cid, features in self.store.conn.execute(
                "SELECT message_id, chunk_id, features FROM ranker_examples WHERE chunk_id != ? "
                "ORDER BY message_id, chunk_id", (NO_FEATURES,)):
            label = labelled.get(int(mid), {}).get(int(cid))
            if label is not None:
                out.append((int(mid), RawFeatures.from_json(json.loads(features)), label))
        return out

    def train(self, labelled: dict[int, dict[int, int]]) -> dict[str, Any]:
        examples = self.examples(labelled)
        counts = Counts()
        per_message: dict[int, Counts] = {}
        for mid, raw, label in examples:
            counts.add(raw, label)
            per_message.setdefault(mid, Counts()).add(raw, label)
        positives = sum(1 for _, _, label in examples if label > 0)
        if not examples or positives == 0 or positives == len(examples):
            self.reranking.set_model(None)
            self.state_store.delete(MODEL_KEY)
            return {"examples": len(examples), "positives": positives, "trained": False}
        now_ns = int(self._clock() * 1e9)
        owns = []
        for mid, raw, _label in examples:
            own = Counts()  # leave this answer's own labels out of its affinity features
            for table, key in (("folders", raw.folder), ("types", raw.ext), ("files", raw.file)):
                total = getattr(counts, table).get(key, [0.0, 0.0, 0.0])
                mine = getattr(per_message[mid], table).get(key, [0.0, 0.0, 0.0])
                getattr(own, table)[key] = [t - m for t, m in zip(total, mine, strict=True)]
            owns.append(own)
        # As at search time: does the answer's candidate set hold a liked folder / type?
        liked: dict[int, Beside] = {}
        for (mid, raw, _label), own in zip(examples, owns, strict=True):
            here = beside_liked([raw], own)
            seen = liked.get(mid, Beside(False, False))
            liked[mid] = Beside(seen.folder or here.folder, seen.type or here.type)
        rows = [vectorize(raw, own, now_ns, liked[mid])
                for (mid, raw, _label), own in zip(examples, owns, strict=True)]
        x = np.vstack(rows)
        y = np.array([1.0 if label > 0 else 0.0 for _, _, label in examples])
        weights, bias = fit(x, y, self.reranking.settings.ranker_l2)
        model = RankerModel(tuple(float(w) for w in weights), bias, counts, len(examples),
                            self._clock())
        self.state_store.set(MODEL_KEY, model.to_json())
        self.reranking.set_model(model)
        return {"examples": len(examples), "positives": positives, "answers": len(per_message),
                "trained": True}
