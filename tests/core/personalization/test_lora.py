"""The opt-in LoRA path end to end on the tiny GGUF: train in pausable steps on the user's
own text, export a GGUF adapter, keep it encrypted, attach it to the real engine, measure
held-out perplexity with and without it, reset to the base model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.assistant.conversations import Conversations
from app.core.config import EngineSettings, PersonalizationSettings
from app.core.engine.gguf_check import inspect_gguf
from app.core.engine.llm import Engine
from app.core.personalization import lora_train
from app.core.personalization.adapters import (
    ADAPTER_BLOB,
    CHECKPOINT_BLOB,
    LoraTask,
    PrivateFile,
)
from app.core.personalization.state import PersonalState
from app.core.tasks import TaskState
from tests.fixtures.canary import scan, vector_patterns

pytestmark = pytest.mark.skipif(lora_train.missing() is not None,
                                reason=f"the lora extra is not installed: {lora_train.missing()}")

PHRASES = ["my cat mimi sleeps on the red sofa", "mimi the cat likes the red sofa best",
           "the red sofa is where my cat mimi naps", "my cat mimi and the red sofa again"]


def inline(fn: Any) -> Any:
    return fn()


@pytest.fixture
def engine(tiny_gguf: Path) -> Any:  # noqa: F811
    e = Engine(EngineSettings(context_size=512, idle_unload_s=0, seed=1), model_path=tiny_gguf)
    yield e
    e.close()


def test_lora_end_to_end_on_the_tiny_model(unlocked: Any, engine: Engine) -> None:
    chat = Conversations(unlocked.store)
    conversation = chat.create()
    for i in range(24):
        chat.add_message(conversation.id, "user", PHRASES[i % len(PHRASES)])
    settings = PersonalizationSettings(lora_enabled=True, lora_steps=40, lora_rank=4,
                                       lora_learning_rate=1e-2, lora_min_texts=10)
    state_store = PersonalState(unlocked.store)
    task = LoraTask(unlocked.store, unlocked.blobs, settings, lambda: engine, state_store,
                    inline)
    assert task.waiting_reason() is None and task.pending()

    # Pause between steps: a cancelled session trains nothing more but keeps a checkpoint.
    first = task.step(TaskState())
    assert first["steps"] == 10 and unlocked.blobs.exists(CHECKPOINT_BLOB)
    paused = TaskState()
    paused.cancel()
    assert task.step(paused)["steps"] == 10
    # Resume in a new task (as after a restart) from the encrypted checkpoint.
    task = LoraTask(unlocked.store, unlocked.blobs, settings, lambda: engine, state_store,
                    inline)
    results = []
    while task.pending():
        results.append(task.step(TaskState()))
    assert results[0]["steps"] == 20
    done = results[-1]
    assert done["phase"] == "ready" and done["steps"] == 40
    assert done["perplexity_adapter"] < done["perplexity_base"], done
    assert not unlocked.blobs.exists(CHECKPOINT_BLOB)

    # Attached to the real engine from a RAM-only file; the engine still answers.
    assert engine.lora_path is not None and not str(engine.lora_path).startswith(
        str(unlocked.home))
    text = "".join(engine.stream_chat([{"role": "user", "content": "hi"}], max_tokens=4))
    assert text
    assert task.status()["attached"] is True

    # The stored adapter is a GGUF LoRA adapter for this architecture, never in plaintext.
    data = unlocked.blobs.read(ADAPTER_BLOB)
    probe = PrivateFile("probe.gguf")
    try:
        probe.write(data)
        info = inspect_gguf(probe.path)
        assert info.kind == "adapter" and info.architecture == "llama"
        import gguf

        reader = gguf.GGUFReader(str(probe.path))
        lora_b = next(t for t in reader.tensors if t.name.endswith("attn_v.weight.lora_b"))
        weights = lora_b.data.reshape(-1)[:64].copy()
    finally:
        probe.close()
    assert scan(unlocked.home, vector_patterns(weights)) == []

    # One call back to the base model.
    task.reset()
    assert engine.lora_path is None
    assert not unlocked.blobs.exists(ADAPTER_BLOB)
    assert state_store.get("lora.state") is None


def test_waits_without_enough_text_or_when_off(unlocked: Any, engine: Engine) -> None:
    off = LoraTask(unlocked.store, unlocked.blobs, PersonalizationSettings(), lambda: engine,
                   PersonalState(unlocked.store), inline)
    assert off.waiting_reason() == "the personal model is turned off" and not off.pending()
    on = LoraTask(unlocked.store, unlocked.blobs, PersonalizationSettings(lora_enabled=True),
                  lambda: engine, PersonalState(unlocked.store), inline)
    assert on.waiting_reason() == "not enough of your own text yet"
    no_model = LoraTask(unlocked.store, unlocked.blobs,
                        PersonalizationSettings(lora_enabled=True), lambda: None,
                        PersonalState(unlocked.store), inline)
    assert no_model.waiting_reason() == "waiting for a model"
