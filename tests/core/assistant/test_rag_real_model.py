"""The pipeline with real llama.cpp inference (the tiny random-weight GGUF)."""

from __future__ import annotations

from pathlib import Path

from app.core.config import EngineSettings
from app.core.engine.llm import Engine
from app.core.tasks import TaskState


def test_real_model_streams_stops_and_stores(make_assistant, tiny_gguf: Path) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(EngineSettings(context_size=2048, max_tokens=24, seed=1, idle_unload_s=0),
                    model_path=tiny_gguf)
    try:
        assistant = make_assistant(engine)
        events = list(assistant.ask(TaskState(), "When is the Kyoto trip?"))
        tokens = [e.text for e in events if e.kind == "token"]
        done = events[-1]
        assert done.kind == "done" and len(tokens) > 3
        assert done.message.text == "".join(tokens).strip()
        assert done.message.status == "complete"
        assert done.message.citations and done.message.meta["ttft_ms"] is not None
        cid = done.conversation_id
        assert assistant.conversations.get(cid).title  # generated (random) or first words

        state = TaskState()
        stopped = None
        count = 0
        for event in assistant.ask(state, "And the tomatoes?", cid):
            if event.kind == "token":
                count += 1
                if count == 2:
                    state.cancel()
            if event.kind == "done":
                stopped = event
        assert stopped is not None and stopped.message.status == "stopped"
        assert count <= 3  # stops within one token of the cancel
    finally:
        engine.close()
