"""Memory extraction and consolidation with a scripted model: duplicates, contradictions,
the cap, forget (never re-extracted), turning off, and no plaintext under the profile."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.assistant.conversations import Conversations
from app.core.personalization.extraction import MemoryExtractor
from app.core.personalization.memories import Candidate, MemoryBank, MemoryNotFound
from app.core.personalization.state import PersonalState
from app.core.tasks import Cancelled, TaskState
from tests.fixtures.canary import scan, text_patterns
from tests.fixtures.fake_engine import FakeEngine


def item(text: str, message_id: int, confidence: float = 0.9, kind: str = "fact") -> dict[str, Any]:
    return {"text": text, "kind": kind, "confidence": confidence,
            "source_message_id": message_id}


@pytest.fixture
def chat(unlocked: Any) -> Conversations:
    return Conversations(unlocked.store)


def extractor(bank: MemoryBank, engine: Any, enabled: bool = True) -> MemoryExtractor:
    return MemoryExtractor(bank, PersonalState(bank.store), lambda: engine, lambda: enabled)


def say(chat: Conversations, *texts: str) -> list[int]:
    conversation = chat.create()
    ids = []
    for text in texts:
        ids.append(chat.add_message(conversation.id, "user", text).id)
        chat.add_message(conversation.id, "assistant", "Noted.")
    return ids


def run_all(ex: MemoryExtractor) -> list[dict[str, Any]]:
    results = []
    while ex.pending():
        results.append(ex.step(TaskState()))
    return results


def test_extracts_from_new_user_messages_once(bank: MemoryBank, chat: Conversations) -> None:
    fake = FakeEngine()
    ids = say(chat, "I moved to Lisbon last year and I work as a nurse.")
    fake.enqueue_json({"memories": [item("The user lives in Lisbon", ids[0]),
                                    item("The user works as a nurse", ids[0], 0.8),
                                    item("A guess about nothing", ids[0], 0.2),
                                    item("From a message that is not in the batch", 999)]})
    ex = extractor(bank, fake)
    results = run_all(ex)
    assert results[-1]["added"] == 2 and results[-1]["skipped"] == 1
    assert sorted(m.text for m in bank.entries()) == ["The user lives in Lisbon",
                                                   "The user works as a nurse"]
    assert all(m.sources == (ids[0],) for m in bank.entries())
    # Only user messages went to the model, each labelled with its id.
    prompt = fake.calls[0][-1]["content"]
    assert f"[message {ids[0]}]" in prompt and "Noted." not in prompt
    assert not ex.pending() and len(fake.calls) == 1


def test_duplicates_merge_without_a_model_call(bank: MemoryBank, chat: Conversations) -> None:
    fake = FakeEngine()
    ids = say(chat, "I live in Lisbon.", "Lisbon is where I live, as I said.")
    fake.enqueue_json({"memories": [item("The user lives in Lisbon", ids[0], 0.6),
                                    item("the user lives in Lisbon.", ids[1], 0.95)]})
    run_all(extractor(bank, fake))
    [memory] = bank.entries()
    assert memory.mentions == 2 and memory.confidence == pytest.approx(0.95)
    assert memory.sources == tuple(ids)
    assert len(fake.calls) == 1  # no judge call for an exact duplicate


def test_contradiction_newer_statement_wins(bank: MemoryBank, chat: Conversations) -> None:
    fake = FakeEngine()
    first = say(chat, "I live in Berlin.")
    fake.enqueue_json({"memories": [item("The user lives in Berlin", first[0])]})
    ex = extractor(bank, fake)
    run_all(ex)
    [old] = bank.entries()
    second = say(chat, "We moved, I live in Munich now.")
    fake.enqueue_json({"memories": [item("The user lives in Munich", second[0])]})
    fake.enqueue_json({"decision": "replaces", "memory_id": old.id})
    result = run_all(ex)[-1]
    assert result["replaced"] == 1
    [memory] = bank.entries()
    assert memory.id == old.id and memory.text == "The user lives in Munich"
    assert set(memory.sources) == {first[0], second[0]}
    judge_prompt = fake.calls[-1][-1]["content"]
    assert f"[{old.id}] The user lives in Berlin" in judge_prompt
    assert "NEW: The user lives in Munich" in judge_prompt
    recalled = bank.recall("where does the user live Munich", 3)
    assert [r.text for r in recalled] == ["The user lives in Munich"]


def test_judge_says_new_keeps_both(bank: MemoryBank, chat: Conversations) -> None:
    fake = FakeEngine()
    ids = say(chat, "I like green tea.", "I like green apples too.")
    fake.enqueue_json({"memories": [item("The user likes green tea", ids[0]),
                                    item("The user likes green apples", ids[1])]})
    fake.enqueue_json({"decision": "new", "memory_id": 0})
    run_all(extractor(bank, fake))
    assert len(bank.entries()) == 2
    assert len(fake.calls) == 2  # the related pair went to the judge


def test_cap_drops_the_least_useful_and_keeps_edited(bank: MemoryBank, clock: Any) -> None:
    bank.settings.max_memories = 3
    texts = ["alpha one", "bravo two", "charlie three", "delta four", "echo five"]
    confidences = [0.55, 0.9, 0.95, 0.6, 0.99]
    first = bank.consolidate([Candidate(texts[0], "fact", confidences[0], 1)], lambda c, r: None)
    assert first["added"] == 1
    edited = bank.edit(bank.entries()[0].id, "alpha one, edited by the user")
    counts = bank.consolidate([Candidate(t, "fact", c, i + 2) for i, (t, c) in
                               enumerate(zip(texts[1:], confidences[1:], strict=True))],
                              lambda c, r: None)
    assert counts["dropped"] == 2
    kept = {m.text for m in bank.entries()}
    assert kept == {edited.text, "charlie three", "echo five"}
    assert bank.vectors.count() == 3


def test_forget_is_everywhere_and_never_comes_back(bank: MemoryBank,
                                                   chat: Conversations) -> None:
    fake = FakeEngine()
    ids = say(chat, "My sister is called Ana.")
    fake.enqueue_json({"memories": [item("The user's sister is called Ana", ids[0])]})
    ex = extractor(bank, fake)
    run_all(ex)
    [memory] = bank.entries()
    assert bank.recall("sister Ana", 3)
    bank.forget(memory.id)
    assert bank.entries() == [] and bank.vectors.count() == 0
    assert bank.recall("sister Ana", 3) == []
    with pytest.raises(MemoryNotFound):
        bank.get(memory.id)
    # Even if the messages were read again, the forgotten one is never sent or kept.
    PersonalState(bank.store).set("memories.cursor", 0)
    later = say(chat, "I have a dog named Rex.")
    fake.enqueue_json({"memories": [item("The user's sister is called Ana", ids[0]),
                                    item("The user has a dog named Rex", later[0])]})
    run_all(ex)
    assert [m.text for m in bank.entries()] == ["The user has a dog named Rex"]
    assert "Ana" not in fake.calls[-1][-1]["content"]
    # The in-memory vectors are rebuilt from the store (as at unlock) without it.
    assert bank.rebuild() == 1


def test_without_a_model_extraction_waits(bank: MemoryBank, chat: Conversations) -> None:
    say(chat, "I am vegetarian.")
    ex = extractor(bank, None)
    assert not ex.pending()
    assert ex.waiting_reason() == "waiting for a model"
    assert ex.backlog() == 1 and bank.entries() == []


def test_turned_off_no_extraction_no_recall(bank: MemoryBank, chat: Conversations) -> None:
    fake = FakeEngine()
    ids = say(chat, "I am vegetarian.")
    fake.enqueue_json({"memories": [item("The user is vegetarian", ids[0])]})
    run_all(extractor(bank, fake))
    assert bank.recall("vegetarian food", 3)
    bank.settings.memories_enabled = False
    assert bank.recall("vegetarian food", 3) == []
    say(chat, "I also run marathons.")
    assert not extractor(bank, fake, enabled=False).pending()


def test_cancelled_extraction_keeps_the_batch_for_later(bank: MemoryBank,
                                                        chat: Conversations) -> None:
    fake = FakeEngine()
    ids = say(chat, "I play the cello.")
    ex = extractor(bank, fake)
    state = TaskState()
    state.cancel()
    with pytest.raises(Cancelled):  # before the model is taken
        ex.step(state)
    assert fake.calls == [] and ex.backlog() == 1
    fake.enqueue_json({"memories": [item("The user plays the cello", ids[0])]})
    run_all(ex)
    assert [m.text for m in bank.entries()] == ["The user plays the cello"]


def test_no_memory_text_in_plaintext_under_the_profile(unlocked: Any, bank: MemoryBank,
                                                       chat: Conversations) -> None:
    marker = "ZebraCanary7731 is the user's secret nickname"
    fake = FakeEngine()
    ids = say(chat, "Call me by my nickname please.")
    fake.enqueue_json({"memories": [item(marker, ids[0])]})
    run_all(extractor(bank, fake))
    assert bank.entries()[0].text == marker
    unlocked.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    assert scan(unlocked.home, text_patterns("ZebraCanary7731")) == []


class NoFiles:
    """A searcher over an empty library (the recall path is what is tested here)."""

    def search(self, query: str, k: int = 10, **kwargs: Any) -> list[Any]:
        return []


def test_recalled_memories_are_cited_as_memory(bank: MemoryBank, chat: Conversations) -> None:
    from app.core.assistant.rag import Assistant
    from app.core.config import AssistantSettings

    fake = FakeEngine()
    ids = say(chat, "I am allergic to peanuts.")
    fake.enqueue_json({"memories": [item("The user is allergic to peanuts", ids[0])]})
    run_all(extractor(bank, fake))
    assistant = Assistant(chat, NoFiles(), None, AssistantSettings(), recall=bank)
    events = list(assistant.ask(TaskState(), "is peanut sauce ok for the user?"))
    sources = events[0].sources
    assert [(s.kind, s.snippet) for s in sources] == [("memory",
                                                       "The user is allergic to peanuts")]
    assert bank.entries()[0].recalls == 1


def test_runtime_wires_recall_and_the_reranker(unlocked: Any) -> None:
    from app.core.personalization.ranker import RerankingSearcher
    from app.runtime import Runtime

    runtime = Runtime.start(unlocked)
    try:
        assistant = runtime.assistant
        assert assistant.recall is runtime.memories
        assert isinstance(assistant.searcher, RerankingSearcher)
        assert assistant.searcher.inner is runtime.memory.searcher
        assert runtime.personalizer.scheduler.pending() == []
    finally:
        runtime.close()
