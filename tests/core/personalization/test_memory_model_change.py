"""A change of embedding model: the memories are embedded again from their text before their
vectors are loaded, so recall and duplicate detection keep working (vectors of another model
have another dimension, or the same one with another meaning)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from app.core.config import PersonalizationSettings
from app.core.memory.embedder import SentenceEmbedder
from app.core.memory.vectors import EphemeralVectors
from app.core.personalization.memories import META_MEMORY_MODEL, Candidate, MemoryBank
from app.core.profile.store import get_meta
from tests.fixtures.fake_embedder import FakeEmbedder
from tests.fixtures.notes import embedder  # noqa: F401


@pytest.fixture
def banks(unlocked: Any) -> Iterator[Any]:
    opened: list[EphemeralVectors] = []

    def open_bank(model: Any) -> MemoryBank:
        vectors = EphemeralVectors("memories")
        opened.append(vectors)
        return MemoryBank(unlocked.store, model, vectors, PersonalizationSettings())

    yield open_bank
    for vectors in opened:
        vectors.close()


def remember(bank: MemoryBank, text: str, message_id: int) -> dict[str, int]:
    return bank.consolidate([Candidate(text, "fact", 0.9, message_id)], lambda c, r: None)


def stored_dims(unlocked: Any) -> set[int]:
    return {len(blob) // 4 for (blob,) in unlocked.store.conn.execute(
        "SELECT embedding FROM memories")}


def test_memories_follow_a_model_of_another_dimension(unlocked: Any, banks: Any) -> None:
    first = banks(FakeEmbedder(dim=64, name="model-a"))
    remember(first, "The user lives in Lisbon", 1)
    remember(first, "The user plays the cello", 2)
    assert get_meta(unlocked.store.conn, META_MEMORY_MODEL) == "model-a"
    assert stored_dims(unlocked) == {64}

    model_b = FakeEmbedder(dim=32, name="model-b")
    second = banks(model_b)
    [found] = second.recall("does the user live in Lisbon", 1)
    assert found.text == "The user lives in Lisbon"
    assert model_b.calls[0] == 2  # both memories, one batch, before the query
    assert stored_dims(unlocked) == {32}
    assert get_meta(unlocked.store.conn, META_MEMORY_MODEL) == "model-b"
    # The same memory said again is recognised under the new model, and nothing is redone.
    assert remember(second, "the user lives in Lisbon", 3)["duplicates"] == 1
    assert second.reembed() == 0
    assert banks(model_b).rebuild() == 2


def test_a_store_that_does_not_name_the_model_is_embedded_again(unlocked: Any,
                                                                banks: Any) -> None:
    remember(banks(FakeEmbedder(dim=64, name="model-a")), "The user lives in Lisbon", 1)
    with unlocked.store.transaction() as conn:  # a profile from before the model was recorded
        conn.execute("DELETE FROM meta WHERE key = ?", (META_MEMORY_MODEL,))
    model = FakeEmbedder(dim=64, name="model-a")
    assert banks(model).reembed() == 1 and model.calls == [1]


def test_real_model_recall_after_switching_back(unlocked: Any, banks: Any,
                                                embedder: SentenceEmbedder) -> None:  # noqa: F811
    remember(banks(embedder), "The user lives in Berlin with two cats", 1)
    [(blob,)] = unlocked.store.conn.execute("SELECT embedding FROM memories").fetchall()
    before = np.frombuffer(blob, dtype="<f4")
    banks(FakeEmbedder(dim=16, name="other")).rebuild()
    assert stored_dims(unlocked) == {16}

    [found] = banks(embedder).recall("where do I live?", 1)
    assert found.text == "The user lives in Berlin with two cats"
    [(blob,)] = unlocked.store.conn.execute("SELECT embedding FROM memories").fetchall()
    assert np.allclose(np.frombuffer(blob, dtype="<f4"), before, atol=1e-5)
