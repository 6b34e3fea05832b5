"""The scripted fake honours the engine's interface and behaviour that callers rely on."""

from __future__ import annotations

import pytest

from app.core.engine.errors import OutputNotJson
from app.core.engine.protocol import EngineProtocol
from app.core.tasks import TaskState
from tests.fixtures.fake_engine import FakeEngine


def test_streams_what_it_is_told_and_records_the_prompt() -> None:
    fake: EngineProtocol = FakeEngine().enqueue("Paris is the capital.", "Second.")
    msgs = [{"role": "user", "content": "Capital of France?"}]
    assert list(fake.stream_chat(msgs)) == ["Paris", " is", " the", " capital."]
    assert "".join(fake.stream_chat(msgs)) == "Second."
    assert "".join(fake.stream_chat(msgs)) == "Capital of France?"  # echo when empty
    assert isinstance(fake, FakeEngine) and len(fake.calls) == 3


def test_cancel_stop_and_max_tokens() -> None:
    fake = FakeEngine().enqueue("a b c d e f", "a b STOP c", "a b c d")
    state = TaskState()
    got = []
    for piece in fake.stream_chat([], state=state):
        got.append(piece)
        if len(got) == 2:
            state.cancel()
    assert got == ["a", " b"] and state.partial_result == "a b"
    assert "".join(fake.stream_chat([], stop=["STOP"])) == "a b "
    assert "".join(fake.stream_chat([], max_tokens=2)) == "a b"


def test_json_and_lora() -> None:
    fake = FakeEngine().enqueue_json({"keep": True}).enqueue("not json")
    assert fake.complete_json([], {}) == {"keep": True}
    with pytest.raises(OutputNotJson):
        fake.complete_json([], {})
    fake.load_lora("/x/adapter.gguf", 0.5)
    assert fake.lora is not None and fake.lora[1] == 0.5
    fake.unload_lora()
    assert fake.lora is None
