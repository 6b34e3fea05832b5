"""``Memory.warm_up`` loads what the first question and the first indexed batch need (vector
index, searcher, embedding model, the rotation for its width); a model that cannot be loaded
is logged there and reported where it is used."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app.core.config import MemorySettings
from app.core.memory.embedder import EmbedderUnavailable, SentenceEmbedder
from app.core.memory.service import Memory
from app.core.profile.store import Store
from tests.fixtures.fake_embedder import FakeEmbedder


def _memory(tmp_path: Path, store: Store, embedder: SentenceEmbedder) -> Memory:
    return Memory(tmp_path / "home", store, os.urandom(32), MemorySettings(), embedder=embedder)


def test_warm_up_loads_the_model_and_the_index(tmp_path: Path, store: Store) -> None:
    embedder = SentenceEmbedder(threads=1)
    memory = _memory(tmp_path, store, embedder)
    assert not embedder.loaded and "searcher" not in memory.__dict__
    try:
        memory.warm_up()
        assert embedder.loaded
        assert "searcher" in memory.__dict__
        assert embedder.dim in memory.vectors._rotations
        assert memory.vectors.count() == 0
    finally:
        memory.close()
    assert not embedder.loaded


def test_warm_up_without_a_model_logs_and_search_reports_it(
        tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    memory = _memory(tmp_path, store, SentenceEmbedder("familiar-tests/no-such-model"))
    try:
        with caplog.at_level(logging.WARNING, logger="app.core.memory.service"):
            memory.warm_up()
        assert "not loaded at warm-up" in caplog.text
        assert memory.vectors.count() == 0
        with pytest.raises(EmbedderUnavailable):
            memory.searcher.search("anything")
    finally:
        memory.close()


def test_a_switched_model_reaches_every_service_and_the_old_one_is_released(
        tmp_path: Path, store: Store) -> None:
    first = SentenceEmbedder(threads=1)
    memory = _memory(tmp_path, store, first)
    try:
        ingestor, searcher = memory.ingestor, memory.searcher
        assert ingestor.embedder is memory.embedder is searcher.embedder
        first.load()
        second = FakeEmbedder(dim=24, name="model-b")
        memory.switch_embedder(second)
        assert not first.loaded  # its memory is given back
        assert memory.embedder.name == ingestor.embedder.name == "model-b"
        assert memory.embedder.dim == 24
        assert searcher.embedder.encode(["a query"], query=True).shape == (1, 24)
        assert memory.embedder.calls == [1]  # other attributes are the current model's
        assert memory.embedder.target is second
    finally:
        memory.close()
