"""LoRA adapters hot-loaded onto the tiny model with llama.cpp's adapter API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import pytest

from app.core.config import EngineSettings
from app.core.engine.errors import InvalidModel
from app.core.engine.llm import Engine
from tests.fixtures.tiny_gguf import build_tiny_llama, build_tiny_lora

MSGS = [{"role": "user", "content": "Write something."}]


@pytest.fixture
def fresh(tiny_gguf: Path) -> Iterator[Engine]:
    e = Engine(EngineSettings(context_size=512, idle_unload_s=0), model_path=tiny_gguf)
    yield e
    e.close()


def _say(e: Engine) -> str:
    return "".join(e.stream_chat(MSGS, max_tokens=24, temperature=0.0, seed=1))


def test_adapter_changes_output_and_unloading_restores_it(fresh: Engine, tiny_lora: Path) -> None:
    base = _say(fresh)
    fresh.load_lora(tiny_lora, 1.0)
    adapted = _say(fresh)
    assert adapted != base
    assert fresh.lora_path == tiny_lora
    fresh.unload_lora()
    assert _say(fresh) == base
    assert fresh.lora_path is None


def test_scale_zero_is_the_base_model(fresh: Engine, tiny_lora: Path) -> None:
    base = _say(fresh)
    fresh.load_lora(tiny_lora, 0.0)
    assert _say(fresh) == base


def test_adapter_survives_an_idle_unload(fresh: Engine, tiny_lora: Path) -> None:
    fresh.load_lora(tiny_lora, 1.0)
    adapted = _say(fresh)
    fresh.unload()
    assert _say(fresh) == adapted  # reload re-applies the adapter
    assert fresh.loads == 2


def test_adapter_for_another_model_shape_is_refused(fresh: Engine, tmp_path: Path) -> None:
    narrow = build_tiny_llama(tmp_path / "narrow.gguf", n_embd=32, n_ff=64)
    wrong = build_tiny_lora(narrow, tmp_path / "narrow-lora.gguf")
    base = _say(fresh)
    with pytest.raises(InvalidModel, match="refused the adapter"):
        fresh.load_lora(wrong)
    assert _say(fresh) == base


def test_adapter_for_another_architecture_is_refused(fresh: Engine, tmp_path: Path) -> None:
    path = tmp_path / "qwen-lora.gguf"
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(InvalidModel, match="adapter for 'qwen2' models"):
        fresh.load_lora(path)


def test_a_model_file_is_not_an_adapter(fresh: Engine, tiny_gguf: Path) -> None:
    with pytest.raises(InvalidModel, match="is a model, not a LoRA adapter"):
        fresh.load_lora(tiny_gguf)
