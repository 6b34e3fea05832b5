"""Extraction and judging through real llama.cpp (the tiny random-weight GGUF): the grammar
built from the JSON schemas yields JSON that parses and fits the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.core.assistant.conversations import Conversations
from app.core.config import EngineSettings
from app.core.engine.llm import Engine
from app.core.personalization.extraction import (
    JUDGE_SCHEMA,
    MemoryExtractor,
    candidates_schema,
    extraction_messages,
    judge_messages,
)
from app.core.personalization.memories import Candidate, MemoryBank, StoredMemory
from app.core.personalization.state import PersonalState
from app.core.tasks import TaskState


@pytest.fixture(scope="module")
def engine(tiny_gguf: Path) -> Any:  # noqa: F811
    e = Engine(EngineSettings(context_size=4096, idle_unload_s=0, seed=3), model_path=tiny_gguf)
    yield e
    e.close()


# The product schema, with its bounds made small: grammar-constrained sampling costs tens of
# milliseconds per token here and random weights fill every string to its maximum length.
SMALL = candidates_schema(max_items=1, max_text=24)


def test_candidates_json_from_the_tiny_model_parses(engine: Engine) -> None:
    value = engine.complete_json(extraction_messages([(7, "I live in Porto and love jazz.")]),
                                 SMALL, max_tokens=2048, temperature=0.0, seed=3)
    jsonschema.validate(value, SMALL)
    assert isinstance(value["memories"], list)


def test_judge_json_from_the_tiny_model_parses(engine: Engine) -> None:
    memory = StoredMemory(4, "The user lives in Porto", "fact", 0.9, 1, 0, False, 0.0, 0.0)
    value = engine.complete_json(
        judge_messages(Candidate("The user lives in Lyon", "fact", 0.9, 8), [memory]),
        JUDGE_SCHEMA, max_tokens=64, temperature=0.0, seed=3)
    jsonschema.validate(value, JUDGE_SCHEMA)


def test_an_extraction_step_with_the_real_engine(bank: MemoryBank, unlocked: Any,
                                                 engine: Engine) -> None:
    chat = Conversations(unlocked.store)
    conversation = chat.create()
    chat.add_message(conversation.id, "user", "I live in Porto and love jazz.")
    ex = MemoryExtractor(bank, PersonalState(unlocked.store), lambda: engine, lambda: True,
                         schema=SMALL)
    assert ex.pending()
    result = ex.step(TaskState())
    assert result["messages"] == 1 and result["backlog"] == 0
    # Random weights: whatever it proposed was checked against the batch's message ids.
    assert all(set(m.sources) <= {1} for m in bank.entries())
