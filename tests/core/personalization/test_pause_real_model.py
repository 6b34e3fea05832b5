"""The user comes back while the real engine (tiny GGUF) reads an extraction prompt: the
idle session pauses without waiting for the prompt to be read, keeps nothing, and the next
idle period does the work on the same engine.

Wired as the runtime wires it: the session on a personal lane, its model calls on an llm lane.
No sleeps: ``HeldOnTheLlmLane`` holds llama.cpp's first abort check (the first look at the
session's flag made on the llm lane) until the test has signalled the user's return.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.assistant.conversations import Conversations
from app.core.config import EngineSettings
from app.core.engine.llm import Engine
from app.core.personalization.extraction import MemoryExtractor, candidates_schema
from app.core.personalization.memories import MemoryBank
from app.core.personalization.scheduler import IdleScheduler
from app.core.personalization.state import PersonalState
from app.core.tasks import Lane, TaskState

HOLD_LIMIT_S = 60.0  # a safety net for a broken test, never the synchronisation itself
SMALL = candidates_schema(max_items=1, max_text=24)  # see test_extraction_real_model.py


class HeldOnTheLlmLane(TaskState):
    """A session state whose first read on the llm lane waits for ``release``. On that lane
    only the engine reads the flag, and while the prompt is read only llama.cpp's abort
    callback does: ``reading`` is set when the model has started on the prompt."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()
        self.release = threading.Event()

    @property
    def cancelled(self) -> bool:
        if threading.current_thread().name.startswith("lane-llm") and not self.reading.is_set():
            self.reading.set()
            self.release.wait(HOLD_LIMIT_S)
        return super().cancelled


@pytest.fixture
def lanes() -> Iterator[tuple[Lane, Lane]]:
    llm, personal = Lane("llm"), Lane("personal-test", niceness=19)
    yield llm, personal
    personal.shutdown()
    llm.shutdown()


def test_activity_while_the_model_reads_the_prompt_pauses_the_session(
        bank: MemoryBank, unlocked: Any, tiny_gguf: Path, clock: Any,  # noqa: F811
        lanes: tuple[Lane, Lane]) -> None:
    llm_lane, personal = lanes
    engine = Engine(EngineSettings(context_size=4096, batch_size=64, idle_unload_s=0, seed=3),
                    model_path=tiny_gguf, lane=llm_lane)
    chat = Conversations(unlocked.store)
    conversation = chat.create()
    for n in range(3):  # an extraction batch of long messages (about 3,000 tokens here)
        chat.add_message(conversation.id, "user", f"Note {n}: I live in Porto. " * 30)

    def run_model(fn: Callable[[], Any]) -> Any:  # as Personalizer._run_model
        return llm_lane.submit("personal-model", lambda _st: fn(), replace=False).result()

    extractor = MemoryExtractor(bank, PersonalState(unlocked.store), lambda: engine,
                                lambda: True, run_model, schema=SMALL)
    sched = IdleScheduler(bank.settings, [extractor], clock=clock, wall=clock,
                          power=lambda: True)
    clock.advance(600)
    session = HeldOnTheLlmLane()
    try:
        job = personal.submit("personalization", lambda _st: sched.run_session(session))
        assert session.reading.wait(HOLD_LIMIT_S), "the model never started on the prompt"
        assert sched.status().state == "running"
        sched.note_activity()  # the user is back
        assert session.cancelled
    finally:
        session.release.set()
    assert job.result(timeout=HOLD_LIMIT_S) == {}

    stats = engine.last_stats
    assert stats.finish_reason == "cancelled" and stats.completion_tokens == 0
    assert stats.abort_checks == 1  # stopped at the first check after the user came back
    assert stats.prompt_tokens > 2000 and stats.prompt_tokens_read == 0
    assert sched.status().state == "paused"
    assert extractor.cursor == 0 and extractor.backlog() == 3  # nothing was kept
    assert "memories" not in sched.status().last_results

    clock.advance(600)  # idle again: the same engine does the whole batch
    try:
        done = sched.run_session(TaskState())
    finally:
        engine.close()
    assert done["memories"]["messages"] == 3 and done["memories"]["backlog"] == 0
    assert engine.last_stats.finish_reason in ("stop", "length")
