"""A search query never waits behind a bulk encoding for more than one embedder batch."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from app.core.memory.embedder import SentenceEmbedder


class GatedModel:
    """The real model; its first call blocks until the test lets it go."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.calls: list[tuple[str, ...]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: list[str], *args: Any) -> Any:
        self.calls.append(tuple(texts))
        if len(self.calls) == 1:
            self.first_started.set()
            assert self.release.wait(60)
        return self.inner.encode(texts, *args)


def test_query_goes_before_the_next_bulk_batch(real_embedder: SentenceEmbedder) -> None:
    gated = GatedModel(real_embedder.load())
    embedder = SentenceEmbedder(batch_size=2, threads=1)
    embedder._model, embedder._dim = gated, real_embedder.dim  # the loaded model, gated
    bulk_texts = ["a longer first text about sourdough", "second text", "third", "4"]
    results: dict[str, np.ndarray] = {}
    bulk = threading.Thread(target=lambda: results.update(bulk=embedder.encode(bulk_texts)))
    bulk.start()
    assert gated.first_started.wait(60)
    query = threading.Thread(target=lambda: results.update(
        query=embedder.encode(["where is the bread recipe?"], query=True)))
    query.start()
    waited = threading.Event()
    for _ in range(10_000):  # until the query is waiting for the lock (bounded)
        if embedder._queries_waiting == 1:
            break
        waited.wait(0.001)
    gated.release.set()
    bulk.join(60)
    query.join(60)
    assert gated.calls == [("a longer first text about sourdough", "second text"),
                           ("where is the bread recipe?",), ("third", "4")]
    # Rows come back in the caller's order, equal to encoding each text alone.
    expected = real_embedder.encode(bulk_texts)
    assert np.allclose(results["bulk"], expected, atol=1e-5)
    assert results["query"].shape == (1, real_embedder.dim)
