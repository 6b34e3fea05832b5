"""The memory services of one unlocked profile, built together (``Runtime.memory``).

``ingestor`` belongs to the index lane; ``searcher`` may be used from any worker thread.
Building this is cheap: the embedder and the vector index are loaded by ``warm_up`` (the app
calls it behind the unlock dialog) or else on first use.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

from app.core.config import MemorySettings
from app.core.memory.embedder import (
    Embedder,
    EmbedderUnavailable,
    SentenceEmbedder,
    SwitchableEmbedder,
    close_embedder,
)
from app.core.memory.ingest import Ingestor
from app.core.memory.search import Searcher
from app.core.memory.vectors import EphemeralVectors, VectorIndex
from app.core.profile.store import Store
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

VECTORS_DIR = "vectors"


def make_embedder(settings: MemorySettings) -> SentenceEmbedder:
    return SentenceEmbedder(settings.embedding_model, settings.embedding_batch_size,
                            settings.embedding_threads, backend=settings.embedding_backend)


class Memory:
    """Embedder, ANN index, ingestor and searcher over one profile's store."""

    def __init__(self, home: Path, store: Store, vectors_key: bytes, settings: MemorySettings,
                 embedder: Embedder | None = None):
        self.home = home
        self.store = store
        self.settings = settings
        self.embedder = SwitchableEmbedder(embedder if embedder is not None
                                           else make_embedder(settings))
        self.vectors = VectorIndex(home / VECTORS_DIR, vectors_key)
        self._ephemeral: list[EphemeralVectors] = []

    @cached_property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.store, self.embedder, self.vectors, self.settings)

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(self.store, self.embedder, self.vectors, self.settings)

    def warm_up(self) -> None:
        """Open the vector index, build the searcher and load the embedder now, so neither
        the first question nor the first indexed batch waits for them while the window is up.
        A model that cannot be loaded is only logged here: search and indexing report it."""
        self.vectors.open()
        self.searcher  # noqa: B018
        try:
            self.vectors.prepare(self.embedder.dim)
        except EmbedderUnavailable as exc:
            log.warning("embedding model not loaded at warm-up: %s", exc)

    def switch_embedder(self, embedder: Embedder) -> None:
        """Index lane only: embed with ``embedder`` (a model of the new name in
        ``settings.embedding_model``) from now on, in every service at once; the previous
        model is released. The stored chunks are embedded again by ``ingestor.reembed``
        (the indexer's ``catch_up_embeddings``); until then dense search covers the chunks
        already done, and the ANN index starts again at the next ingest or re-embed."""
        previous = self.embedder.switch(embedder)
        if "ingestor" in self.__dict__:
            self.ingestor.model_switched()
        if previous is not embedder:
            close_embedder(previous)

    def repair_ann(self, _state: TaskState | None = None) -> None:
        """Index lane only (the ANN index's single writer): rebuild the ANN index from
        store.db when it is missing, unreadable or differs from the store (cheap when it is
        consistent). The app's indexer does this at start-up; a process that searches without
        starting the indexer (the CLI) calls it before its first search, or a deleted index
        stays empty and a collection of more than 20,000 chunks gets no dense results."""
        self.ingestor.ensure_ann()

    def ephemeral(self, purpose: str) -> EphemeralVectors:
        """A new in-memory collection (conversations, memories), closed with this service."""
        collection = EphemeralVectors(purpose)
        self._ephemeral.append(collection)
        return collection

    def close(self) -> None:
        if "searcher" in self.__dict__:
            self.searcher.close()
        for collection in self._ephemeral:
            collection.close()
        self._ephemeral.clear()
        self.vectors.close()
        self.embedder.close()
