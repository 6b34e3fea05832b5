"""Cancelling while llama.cpp reads a long prompt (the abort callback), with the tiny GGUF.

No sleeps and no timing: ``GateState`` holds llama.cpp's N-th abort check (while the prompt
is read, the callback is the only reader of ``state.cancelled``) until the test thread has
cancelled, so the cancel lands mid-prompt every time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.config import EngineSettings
from app.core.engine.llm import Engine
from app.core.tasks import Cancelled, Lane, TaskState

HOLD_LIMIT_S = 60.0  # a safety net for a broken test, never the synchronisation itself
BATCH = 64  # prompt tokens per llama_decode: the long prompt is read in many chunks
LONG = [{"role": "system", "content": "You keep notes."},
        {"role": "user", "content": "I like long walks by the river. " * 90}]
SHORT = [{"role": "user", "content": "Tell me a story about a cat."}]
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


class GateState(TaskState):
    """Holds the ``hold_at``-th read of ``cancelled`` until ``release``; ``reached`` is set
    when that read starts."""

    def __init__(self, hold_at: int):
        super().__init__()
        self.hold_at = hold_at
        self.reads = 0
        self.reached = threading.Event()
        self.release = threading.Event()

    @property
    def cancelled(self) -> bool:
        self.reads += 1
        if self.reads == self.hold_at:
            self.reached.set()
            self.release.wait(HOLD_LIMIT_S)
        return super().cancelled


def settings() -> EngineSettings:
    return EngineSettings(context_size=4096, batch_size=BATCH, idle_unload_s=0, seed=11,
                          temperature=0.8, max_tokens=24)


@pytest.fixture
def engine(tiny_gguf: Path) -> Iterator[Engine]:  # noqa: F811
    e = Engine(settings(), model_path=tiny_gguf)
    yield e
    e.close()


def stream(engine: Engine, state: TaskState) -> Any:
    return list(engine.stream_chat(LONG, max_tokens=8, state=state))


def json_call(engine: Engine, state: TaskState) -> Any:
    try:
        return engine.complete_json(LONG, SCHEMA, max_tokens=16, state=state)
    except Cancelled:
        return "raised Cancelled"


def cancel_mid_prompt(engine: Engine, call: Any, hold_at: int) -> tuple[Any, GateState]:
    """Run ``call`` on an llm lane, cancel it from this thread at llama.cpp's ``hold_at``-th
    abort check, and return what it returned."""
    lane = Lane("llm")
    state = GateState(hold_at)
    try:
        job = lane.submit("answer", lambda _st: call(engine, state))
        assert state.reached.wait(HOLD_LIMIT_S), "llama.cpp never asked whether to stop"
        state.cancel()
        state.release.set()
        return job.result(timeout=HOLD_LIMIT_S), state
    finally:
        state.release.set()
        lane.shutdown()


@pytest.mark.parametrize(("call", "cancelled_result"),
                         [(stream, []), (json_call, "raised Cancelled")])
def test_cancel_while_reading_a_long_prompt_stops_it_and_the_engine_recovers(
        engine: Engine, tiny_gguf: Path, call: Any, cancelled_result: Any) -> None:
    hold_at = 150  # a few chunks in: the tiny model's graph has about 45 nodes per chunk
    result, state = cancel_mid_prompt(engine, call, hold_at)
    stats = engine.last_stats
    assert result == cancelled_result
    assert stats.finish_reason == "cancelled" and stats.completion_tokens == 0
    # Stopped at the first check after the cancel: within one graph node.
    assert stats.abort_checks == hold_at
    # Only the chunks finished before the cancel were read; later chunks never started.
    assert stats.prompt_tokens > 2000
    assert 0 < stats.prompt_tokens_read < stats.prompt_tokens // 4
    assert stats.prompt_tokens_read % BATCH == 0
    assert engine._lock.acquire(blocking=False)  # the lane thread let go of the engine
    engine._lock.release()

    # The same engine answers as a fresh one (its half-read prompt was forgotten), and the
    # old callback is gone: it would abort this call, its state being cancelled.
    again = "".join(engine.stream_chat(SHORT))
    assert engine.last_stats.completion_tokens == 24
    again_json = engine.complete_json(SHORT, SCHEMA, max_tokens=16)
    fresh = Engine(settings(), model_path=tiny_gguf)
    try:
        assert again == "".join(fresh.stream_chat(SHORT))
        assert again_json == fresh.complete_json(SHORT, SCHEMA, max_tokens=16)
    finally:
        fresh.close()


def test_a_cancel_before_the_first_check_reads_no_chunk(engine: Engine) -> None:
    result, _state = cancel_mid_prompt(engine, stream, hold_at=1)
    assert result == []
    assert engine.last_stats.abort_checks == 1
    assert engine.last_stats.prompt_tokens_read == 0


def test_the_callback_is_armed_only_while_the_prompt_is_read(engine: Engine) -> None:
    def checks(max_tokens: int, state: TaskState | None) -> int:
        engine.unload()  # each run reads the whole prompt (no cached prefix)
        "".join(engine.stream_chat(SHORT, max_tokens=max_tokens, state=state))
        assert engine.last_stats.completion_tokens == max_tokens
        return engine.last_stats.abort_checks

    one = checks(1, TaskState())
    assert one > 0
    assert checks(40, TaskState()) == one  # the 39 later tokens were decoded without asking
    assert checks(5, None) == 0  # nobody can cancel: nothing is installed


def test_other_llama_errors_are_not_mistaken_for_a_cancel(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.load()
    llm = engine._llm
    assert llm is not None

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("llama_decode returned -3")

    monkeypatch.setattr(llm, "create_completion", broken)
    with pytest.raises(RuntimeError, match="returned -3"):
        engine.complete_json(SHORT, SCHEMA, state=TaskState())
    with pytest.raises(RuntimeError, match="returned -3"):
        list(engine.stream_chat(SHORT, state=TaskState()))
