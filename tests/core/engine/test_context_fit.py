"""Context fitting policy: keep system + question, drop oldest history, then worst passages."""

from __future__ import annotations

import pytest

from app.core.engine.context_fit import default_layout, fit
from app.core.engine.errors import ContextTooSmall
from app.core.engine.llm import Engine
from tests.fixtures.fake_engine import FakeEngine

HISTORY = [
    {"role": "user", "content": "old question one " * 10},
    {"role": "assistant", "content": "old answer one " * 10},
    {"role": "user", "content": "recent question two " * 10},
    {"role": "assistant", "content": "recent answer two " * 10},
]
PASSAGES = [f"passage ranked {i} " + "text " * 30 for i in range(5)]


def words(msgs: list[dict[str, str]]) -> int:
    return sum(len(m["content"].split()) + 1 for m in msgs)


def test_everything_fits_nothing_dropped() -> None:
    r = fit("sys", HISTORY, PASSAGES, "q?", budget=10_000, count=words)
    assert not r.dropped_anything
    assert r.messages == default_layout("sys", HISTORY, PASSAGES, "q?")


def test_oldest_history_goes_first_a_whole_turn_at_a_time() -> None:
    full = words(default_layout("sys", HISTORY, PASSAGES, "q?"))
    r = fit("sys", HISTORY, PASSAGES, "q?", budget=full - 5, count=words)
    assert r.dropped_history == 2
    assert r.history == HISTORY[2:]
    assert r.passages == PASSAGES and r.dropped_passage_ranks == []
    assert r.prompt_tokens <= r.budget


def test_then_lowest_ranked_passages() -> None:
    no_history = words(default_layout("sys", [], PASSAGES, "q?"))
    r = fit("sys", HISTORY, PASSAGES, "q?", budget=no_history - 5, count=words)
    assert r.dropped_history == 4
    assert r.dropped_passage_ranks == [4]
    assert r.kept_passage_ranks == [0, 1, 2, 3]
    r = fit("sys", HISTORY, PASSAGES, "q?", budget=words(default_layout("sys", [], [], "q?")),
            count=words)
    assert r.dropped_passage_ranks == [0, 1, 2, 3, 4]
    assert r.messages[0] == {"role": "system", "content": "sys"}
    assert r.messages[-1] == {"role": "user", "content": "q?"}


def test_system_and_question_alone_too_big() -> None:
    with pytest.raises(ContextTooSmall, match="shorten the question"):
        fit("sys " * 50, [], [], "q " * 50, budget=20, count=words)


def test_real_engine_counts_the_rendered_prompt_exactly(engine: Engine) -> None:
    budget_fill = engine.n_ctx - 300
    r = engine.fit_context("You answer from the passages.", HISTORY * 3, PASSAGES * 2,
                           "What is in the passages?", reserve_tokens=300)
    assert r.budget == budget_fill
    assert r.prompt_tokens == len(engine.prompt_tokens(r.messages)) <= r.budget
    assert r.dropped_anything
    # The prompt that was kept is then usable for generation as is.
    assert "".join(engine.stream_chat(r.messages, max_tokens=5, temperature=0))


def test_fake_engine_applies_the_same_policy() -> None:
    fake = FakeEngine(n_ctx=120, max_tokens=20)
    r = fake.fit_context("sys", HISTORY, PASSAGES, "q?")
    assert r.dropped_history == 4 and r.dropped_passage_ranks
    assert r.prompt_tokens <= 100
