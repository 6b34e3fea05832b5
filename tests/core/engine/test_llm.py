"""The engine over real llama.cpp inference with the tiny GGUF."""

from __future__ import annotations

import threading
from pathlib import Path

import llama_cpp
import pytest

from app.core.config import EngineSettings
from app.core.engine import llm as llm_module
from app.core.engine.chat_format import FALLBACK_NAME
from app.core.engine.errors import ContextTooSmall, ModelTooBig, NoModel, OutputNotJson
from app.core.engine.llm import Engine
from app.core.tasks import Lane, TaskState

MSGS = [{"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Tell me a story about a cat."}]


def test_streams_pieces_identical_to_llama_cpp_chat_completion(engine: Engine,
                                                              tiny_gguf: Path) -> None:
    pieces = list(engine.stream_chat(MSGS, max_tokens=40, temperature=0.8, seed=7))
    assert len(pieces) > 1
    assert engine.last_stats.completion_tokens == 40
    assert engine.last_stats.finish_reason == "length"
    assert engine.chat_format_name == "gguf-template"
    raw = llama_cpp.Llama(str(tiny_gguf), n_ctx=1024, verbose=False)
    try:
        out = raw.create_chat_completion(MSGS, max_tokens=40, temperature=0.8, seed=7)
    finally:
        raw.close()
    assert "".join(pieces) == out["choices"][0]["message"]["content"]  # type: ignore[index]


def test_same_seed_same_text_other_seed_other_text(engine: Engine) -> None:
    a = "".join(engine.stream_chat(MSGS, max_tokens=30, temperature=1.0, seed=1))
    b = "".join(engine.stream_chat(MSGS, max_tokens=30, temperature=1.0, seed=1))
    c = "".join(engine.stream_chat(MSGS, max_tokens=30, temperature=1.0, seed=2))
    assert a == b
    assert a != c


def test_cancel_from_another_thread_stops_within_one_token(engine: Engine) -> None:
    lane = Lane("llm")
    reached, resume = threading.Event(), threading.Event()
    state = TaskState()

    def job(st: TaskState) -> int:
        got = 0
        for _piece in engine.stream_chat(MSGS, max_tokens=500, temperature=0.0, state=st):
            got += 1
            if got == 5:
                reached.set()
                resume.wait(10)  # the generator is suspended: no token is sampled meanwhile
        return got

    try:
        job_handle = lane.submit("answer", lambda st: job(state))
        assert reached.wait(30)
        tokens_before_cancel = engine.last_stats  # stats object of this generation
        state.cancel()  # from the test thread, while the lane thread is mid-stream
        resume.set()
        job_handle.result(timeout=30)
    finally:
        lane.shutdown()
    stats = tokens_before_cancel
    assert stats.finish_reason == "cancelled"
    # Five pieces were consumed; at most one more token may have been sampled (and dropped).
    assert 5 <= stats.completion_tokens <= 6
    assert state.partial_result and len(state.partial_result) >= 5


def test_stop_sequence_cuts_the_answer(engine: Engine) -> None:
    full = "".join(engine.stream_chat(MSGS, max_tokens=60, temperature=0.0, seed=3))
    stop = full[12:15]
    cut = "".join(engine.stream_chat(MSGS, max_tokens=60, temperature=0.0, seed=3,
                                     stop=[stop]))
    assert cut == full[: full.index(stop)]
    assert engine.last_stats.finish_reason == "stop"


def test_prompt_larger_than_window_is_refused_clearly(engine: Engine) -> None:
    long = [{"role": "user", "content": "word " * 1200}]
    with pytest.raises(ContextTooSmall, match="model's window"):
        list(engine.stream_chat(long, max_tokens=10))


def test_count_tokens_is_exact_for_the_byte_level_vocab(engine: Engine) -> None:
    # "▁ab" per word: three tokens each, the first word gets the space prefix too.
    assert engine.count_tokens(" ".join(["ab"] * 10)) == 30
    assert engine.count_tokens("<|im_end|>") == 1  # special tokens are parsed


SCHEMA = {
    "type": "object",
    "properties": {
        "keep": {"type": "boolean"},
        "kind": {"enum": ["fact", "preference", "goal"]},
        "weight": {"type": "integer"},
        "tags": {"type": "array", "items": {"enum": ["work", "home"]}, "maxItems": 3},
    },
    "required": ["keep", "kind", "weight", "tags"],
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_json_output_follows_the_schema(engine: Engine, seed: int) -> None:
    value = engine.complete_json(MSGS, SCHEMA, max_tokens=200, temperature=0.8, seed=seed)
    assert set(value) == {"keep", "kind", "weight", "tags"}
    assert isinstance(value["keep"], bool)
    assert value["kind"] in ("fact", "preference", "goal")
    assert isinstance(value["weight"], int)
    assert all(t in ("work", "home") for t in value["tags"]) and len(value["tags"]) <= 3


def test_json_cut_off_by_max_tokens_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(OutputNotJson, match="allow more tokens"):
        engine.complete_json(MSGS, SCHEMA, max_tokens=3)


def test_model_without_template_uses_the_stated_fallback(tiny_gguf_plain: Path) -> None:
    e = Engine(EngineSettings(context_size=512, idle_unload_s=0), model_path=tiny_gguf_plain)
    try:
        assert e.chat_format_name == FALLBACK_NAME
        assert "".join(e.stream_chat(MSGS, max_tokens=10, temperature=0))
        assert e.last_stats.completion_tokens == 10
    finally:
        e.close()


def test_no_model_configured_says_what_to_do() -> None:
    with pytest.raises(NoModel, match="familiar models recommend"):
        Engine(EngineSettings(idle_unload_s=0)).load()


def test_model_bigger_than_ram_is_refused(tiny_gguf: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    facts = {"ram_total_mb": 1, "ram_available_mb": 1, "physical_cores": 1,
             "gpu_offload": False, "free_disk_mb": 1000}
    monkeypatch.setattr(llm_module.hardware, "facts", lambda path=None: facts)
    e = Engine(EngineSettings(context_size=512, idle_unload_s=0), model_path=tiny_gguf)
    with pytest.raises(ModelTooBig, match="needs about .* smaller model"):
        e.load()
    assert not e.loaded


def test_idle_unload_gives_memory_back_and_next_request_reloads(tiny_gguf: Path) -> None:
    lane = Lane("llm")
    e = Engine(EngineSettings(context_size=512, idle_unload_s=0.05), model_path=tiny_gguf,
               lane=lane)
    try:
        first = lane.submit("a", lambda st: "".join(
            e.stream_chat(MSGS, max_tokens=8, temperature=0))).result(30)
        assert e.unloaded.wait(30), "the idle timer never unloaded the model"
        assert not e.loaded
        again = lane.submit("a", lambda st: "".join(
            e.stream_chat(MSGS, max_tokens=8, temperature=0))).result(30)
        assert again == first
        assert e.loads == 2
    finally:
        e.close()
        lane.shutdown()


def test_unload_if_idle_respects_the_configured_time(tiny_gguf: Path) -> None:
    now = [1000.0]
    e = Engine(EngineSettings(context_size=512, idle_unload_s=600), model_path=tiny_gguf,
               clock=lambda: now[0])
    try:
        e.load()
        now[0] += 599
        assert not e.unload_if_idle() and e.loaded
        now[0] += 2
        assert e.unload_if_idle() and not e.loaded
        assert e.count_tokens("hi") > 0 and e.loaded  # transparent reload
    finally:
        e.close()
