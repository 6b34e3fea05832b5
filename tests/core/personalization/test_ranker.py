"""The feedback reranker: labels from feedback, the kill switch, and that it improves the
simulated user's nDCG@10 on held-out queries (real store, real chroma, fake embedder)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.assistant.conversations import Citation, Conversations
from app.core.config import MemorySettings, PersonalizationSettings
from app.core.memory.service import Memory
from app.core.personalization.ranker import (
    Beside,
    Counts,
    RankerModel,
    RawFeatures,
    RerankingSearcher,
    beside_liked,
    raw_features,
    vectorize,
)
from app.core.personalization.ranker_training import RankerTrainer, labels
from app.core.personalization.simulation import simulate
from app.core.personalization.state import PersonalState
from app.core.profile.vault import UnlockedProfile
from tests.fixtures.fake_embedder import FakeEmbedder

DATABASES = {
    "mysql": "mysqldump innodb my.cnf",
    "postgres": "psql pg_dump vacuum",
    "sqlite": "sqlite3 pragma single file",
}
SUBJECTS = [
    "Creating an index", "Backing up a database", "Adding a user account", "Querying JSON columns",
    "Formatting dates", "Using transactions", "Defining views", "Writing triggers",
    "Displaying null values", "Joining three tables", "Counting distinct rows",
    "Renaming a column", "Changing a column type", "Listing all tables", "Importing a CSV file",
    "Exporting query results", "Generating random rows", "Limiting result size",
    "Grouping by month", "Finding duplicate rows", "Deleting old records",
    "Explaining a slow query", "Setting a default value", "Adding a foreign key",
]
CONTROL = {
    "garden": ["Watering tomatoes in summer", "Pruning apple trees", "Composting kitchen scraps",
               "Planting garlic in autumn", "Keeping slugs away from lettuce"],
    "travel": ["Packing a carry-on bag", "Booking night trains", "Renting a car abroad",
               "Exchanging money at airports", "Sleeping on long flights"],
}


def write_corpus(root: Path) -> Path:
    for db, words in DATABASES.items():
        for subject in SUBJECTS:
            note = root / db / (subject.lower().replace(" ", "-") + ".md")
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(f"# {subject}\n\n{subject} with {db}: use {words}. "
                            f"A short note on {subject.lower()}.\n", encoding="utf-8")
    for folder, titles in CONTROL.items():
        for title in titles:
            note = root / folder / (title.lower().replace(" ", "-") + ".md")
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(f"# {title}\n\nNotes about {title.lower()}.\n", encoding="utf-8")
    return root


@pytest.fixture
def world(unlocked: UnlockedProfile, tmp_path: Path) -> Iterator[dict[str, Any]]:
    corpus = write_corpus(tmp_path / "notes")
    memory = Memory(unlocked.home, unlocked.store, unlocked.subkey("vectors"), MemorySettings(),
                    embedder=FakeEmbedder(dim=64))
    outcomes = memory.ingestor.ingest([(p, None) for p in sorted(corpus.rglob("*.md"))])
    assert {o.status for o in outcomes} == {"indexed"}
    settings = PersonalizationSettings()
    reranking = RerankingSearcher(memory.searcher, unlocked.store, settings)
    state = PersonalState(unlocked.store)
    trainer = RankerTrainer(unlocked.store, lambda: memory.searcher, reranking, state)
    yield {"corpus": corpus, "memory": memory, "reranking": reranking, "trainer": trainer,
           "settings": settings, "chat": Conversations(unlocked.store), "state": state,
           "store": unlocked.store}
    memory.close()


def test_reranker_improves_the_simulated_users_ndcg(world: dict[str, Any]) -> None:
    result = simulate(world["corpus"], ["postgres", "sqlite", "mysql"], "mysql",
                      ["garden", "travel"], world["memory"].searcher, world["reranking"],
                      world["trainer"], world["chat"], events=40, seed=1)
    # The ANN graph is built by parallel inserts, so which hits a train query shows can vary
    # a little between runs, and the last train query may run out before the 40th event.
    assert result.heldout_queries >= 8 and 36 <= result.events <= 40
    assert result.trainer["trained"] is True
    assert result.ndcg_after > result.ndcg_before + 0.1, result.to_json()
    assert result.control_after >= result.control_before - 0.05, result.to_json()
    # The kill switch gives the plain ranking back at once.
    world["settings"].reranker_enabled = False
    assert not world["reranking"].active
    query = "Creating an index"
    plain = [h.chunk_id for h in world["memory"].searcher.search(query, k=10)]
    assert [h.chunk_id for h in world["reranking"].search(query, k=10)] == plain
    # The model is kept in the store and loads into a new searcher.
    world["settings"].reranker_enabled = True
    again = RerankingSearcher(world["memory"].searcher, world["store"], world["settings"])
    RankerTrainer(world["store"], lambda: world["memory"].searcher, again, world["state"]).load()
    assert again.active
    assert [h.chunk_id for h in again.search(query, k=10)] == \
        [h.chunk_id for h in world["reranking"].search(query, k=10)]


def test_labels_from_marks_and_thumbs(world: dict[str, Any]) -> None:
    chat: Conversations = world["chat"]
    hits = world["memory"].searcher.search("Creating an index", k=4)
    conversation = chat.create()
    chat.add_message(conversation.id, "user", "Creating an index")
    cites = [Citation(n, "file", str(h.path), h.location, h.snippet, h.chunk_id)
             for n, h in enumerate(hits, start=1)]
    up = chat.add_message(conversation.id, "assistant", "answer", citations=cites)
    down = chat.add_message(conversation.id, "assistant", "answer", citations=cites[:2])
    chat.set_feedback(up.id, 1)
    chat.mark_source(up.id, hits[1].chunk_id, False)
    chat.record_open(up.id, hits[3].chunk_id)
    chat.set_feedback(down.id, -1)
    chat.record_open(down.id, hits[1].chunk_id)
    got = labels(world["store"])
    assert got[up.id] == {hits[0].chunk_id: 1, hits[1].chunk_id: -1, hits[2].chunk_id: 1,
                          hits[3].chunk_id: 1}
    assert got[down.id] == {hits[0].chunk_id: -1, hits[1].chunk_id: 1}


def test_untrained_or_switched_off_changes_nothing(world: dict[str, Any]) -> None:
    reranking: RerankingSearcher = world["reranking"]
    assert not reranking.active
    query = "Backing up a database"
    plain = world["memory"].searcher.search(query, k=5)
    assert [h.chunk_id for h in reranking.search(query, k=5)] == [h.chunk_id for h in plain]
    assert not world["trainer"].pending()  # no feedback yet: nothing to learn


def test_relative_score_spans_the_shown_hits_even_when_fusion_scores_are_negative(
        world: dict[str, Any]) -> None:
    hits = world["memory"].searcher.search("Creating an index", k=4)
    assert len(hits) == 4
    # anchored fusion charges a lexical match for its distance: its scores may be negative
    shifted = [dataclasses.replace(h, score=s) for h, s in zip(hits, (0.4, -0.1, -0.3, -0.6),
                                                                strict=True)]
    assert [f.score for f in raw_features(world["store"], shifted)] == pytest.approx(
        [1.0, 0.55, 0.37, 0.1])  # TAIL_SCORE 0.1 for the worst
    assert raw_features(world["store"], shifted[:1])[0].score == 1.0


def _hit(rank: int, score: float, folder: str) -> RawFeatures:
    return RawFeatures(score, 1.0 / rank, 1.0 / rank, 1.0 / rank, folder, ".md",
                       f"{folder}/note{rank}.md", 0)


def test_a_disliked_folder_counts_only_beside_a_liked_one() -> None:
    # One javascript note was marked not relevant for a database question; mysql is liked.
    counts = Counts(folders={"notes/javascript": [0.0, 1.0, 1.0], "notes/mysql": [6.0, 0.0, 8.0],
                             "notes/postgres": [0.0, 5.0, 9.0]})
    weights = (2.0, 2.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0)
    model = RankerModel(weights, 0.0, counts, 40, 0.0)
    # A javascript question: no liked folder among the candidates, so the plain order stays.
    js = [_hit(1, 1.0, "notes/javascript"), _hit(2, 0.8, "notes/python"),
          _hit(3, 0.6, "notes/javascript"), _hit(4, 0.3, "notes/unix")]
    assert beside_liked(js, counts) == Beside(folder=False, type=False)
    assert list(np.argsort(-model.scores(js, 0))) == [0, 1, 2, 3]
    # A database question: beside the liked mysql notes, postgres's dislike applies.
    db = [_hit(1, 1.0, "notes/postgres"), _hit(2, 0.9, "notes/mysql"),
          _hit(3, 0.5, "notes/sqlite")]
    assert beside_liked(db, counts).folder is True
    order = list(np.argsort(-model.scores(db, 0)))
    assert order[0] == 1 and order.index(0) > order.index(2)
    plain = vectorize(db[0], counts, 0, Beside(folder=False))
    assert plain[4] == 0.0 and vectorize(db[0], counts, 0)[4] < 0
