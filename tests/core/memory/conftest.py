"""Memory fixtures: a store with a random key, a real chroma index in tmp, the fake embedder
for speed, and the real bundled model loaded once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.config import MemorySettings
from app.core.memory.embedder import SentenceEmbedder
from app.core.memory.ingest import Ingestor
from app.core.memory.search import Searcher
from app.core.memory.vectors import VectorIndex
from app.core.profile.store import Store
from tests.fixtures.fake_embedder import FakeEmbedder


@pytest.fixture(scope="session")
def real_embedder() -> SentenceEmbedder:
    embedder = SentenceEmbedder(threads=1)
    embedder.load()
    return embedder


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder(dim=64)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "store.db", os.urandom(32))
    yield opened
    opened.close()


@pytest.fixture
def vectors(tmp_path: Path) -> Iterator[VectorIndex]:
    index = VectorIndex(tmp_path / "vectors", os.urandom(32))
    yield index
    index.close()


@pytest.fixture
def settings() -> MemorySettings:
    return MemorySettings()


@pytest.fixture
def ingestor(store: Store, fake_embedder: FakeEmbedder, vectors: VectorIndex,
             settings: MemorySettings) -> Ingestor:
    return Ingestor(store, fake_embedder, vectors, settings)


@pytest.fixture
def searcher(store: Store, fake_embedder: FakeEmbedder, vectors: VectorIndex,
             settings: MemorySettings) -> Searcher:
    return Searcher(store, fake_embedder, vectors, settings)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder
