"""A simulated user with a stable preference, to show what the feedback reranker learns.

The corpus is a folder of notes in topic folders (the til eval corpus, or a small one in the
tests). Queries are the notes' titles from a group of related topic folders; the user prefers
one of those folders: among the candidates the plain search finds for a query, only notes in
the preferred folder are useful to them (grade 1; the note the title came from, grade 2, when
it is in that folder). Training queries get answers through the real conversations store
(citations = the hits shown); the user opens the useful sources shown and marks one other
source "not relevant", one feedback event each, until ``events`` are spent. The trainer then
runs as in idle time, and nDCG@10 of the plain and the reranked search are compared on
held-out queries of the same user, plus control queries (titles from other folders, their own
note relevant) to show the reranker does not hurt everything else.

Runs synchronously on the caller's thread (bench and tests).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.assistant.conversations import Citation, Conversations
from app.core.memory.evaluation import ndcg_at
from app.core.personalization.ranker import RerankingSearcher
from app.core.personalization.ranker_training import RankerTrainer
from app.core.tasks import TaskState

SHOWN = 8  # sources shown with an answer (the assistant's default passages)
CANDIDATES = 30


def note_title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line:
            return line.lstrip("#").strip()
    return path.stem.replace("-", " ")


def topic_queries(corpus: Path, folders: Sequence[str]) -> list[tuple[str, Path]]:
    """(title, note) for the notes under ``folders``; a title met twice is asked once."""
    out = []
    seen: set[str] = set()
    for name in folders:
        for path in sorted((corpus / name).rglob("*.md")):
            title = note_title(path)
            if len(title.split()) >= 2 and title.lower() not in seen:
                seen.add(title.lower())
                out.append((title, path.resolve()))
    return out


@dataclass
class SimulationResult:
    train_queries: int
    heldout_queries: int
    control_queries: int
    events: int
    answers: int
    ndcg_before: float
    ndcg_after: float
    control_before: float
    control_after: float
    trainer: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in self.__dict__.items()}


def _ndcg(searcher: Any, queries: Sequence[tuple[str, dict[Path, int]]]) -> float:
    if not queries:
        return 0.0
    total = 0.0
    for query, relevant in queries:
        ranked: list[str] = []
        for hit in searcher.search(query, k=10, snippets=False):
            key = str(Path(hit.path).resolve())
            if key not in ranked:
                ranked.append(key)
        total += ndcg_at(ranked, {str(p): g for p, g in relevant.items()}, 10)
    return total / len(queries)


def simulate(corpus: Path, topics: Sequence[str], preferred: str, controls: Sequence[str],
             plain: Any, reranking: RerankingSearcher, trainer: RankerTrainer,
             conversations: Conversations, events: int, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> SimulationResult:
    corpus = corpus.resolve()
    prefer_dir = (corpus / preferred).resolve()

    def useful(path: Path) -> bool:
        return prefer_dir in Path(path).resolve().parents

    judged: list[tuple[str, dict[Path, int]]] = []
    for title, source in topic_queries(corpus, topics):
        relevant: dict[Path, int] = {}
        for hit in plain.search(title, k=CANDIDATES, snippets=False):
            path = Path(hit.path).resolve()
            if useful(path):
                relevant[path] = 2 if path == source else max(relevant.get(path, 0), 1)
        if relevant:
            judged.append((title, relevant))
    random.Random(seed).shuffle(judged)
    half = len(judged) // 2
    train, heldout = judged[:half], judged[half:]
    control = [(t, {p: 1}) for t, p in topic_queries(corpus, controls)]
    random.Random(seed + 1).shuffle(control)
    control = control[:100]

    reranking.set_model(None)
    before = _ndcg(plain, heldout)
    control_before = _ndcg(plain, control)

    spent = answers = 0
    for title, _relevant in train:
        if spent >= events:
            break
        hits = plain.search(title, k=SHOWN)
        conversation = conversations.create(title="simulated")
        conversations.add_message(conversation.id, "user", title)
        cites = [Citation(n, "file", str(h.path), h.location, h.snippet, h.chunk_id)
                 for n, h in enumerate(hits, start=1)]
        message = conversations.add_message(conversation.id, "assistant", "(simulated)",
                                            citations=cites)
        answers += 1
        marked_other = False
        for hit in hits:
            if spent >= events:
                break
            if useful(hit.path):
                conversations.record_open(message.id, hit.chunk_id, str(hit.path))
                spent += 1
            elif not marked_other:
                conversations.mark_source(message.id, hit.chunk_id, False, str(hit.path))
                marked_other = True
                spent += 1
    if progress:
        progress(f"{spent} feedback events on {answers} answers; training")
    state = TaskState()
    summary: dict[str, Any] = {}
    while trainer.pending():
        summary = trainer.step(state)
    after = _ndcg(reranking, heldout)
    control_after = _ndcg(reranking, control)
    return SimulationResult(len(train), len(heldout), len(control), spent, answers, before,
                            after, control_before, control_after, summary)
