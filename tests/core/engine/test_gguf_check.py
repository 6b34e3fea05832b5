from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from app.core.config import EngineSettings
from app.core.engine.errors import InvalidModel
from app.core.engine.gguf_check import inspect_gguf, require_model
from app.core.engine.llm import Engine


def test_tiny_model_reads_as_a_llama_model_with_a_template(tiny_gguf: Path) -> None:
    info = require_model(tiny_gguf)
    assert info.architecture == "llama"
    assert info.kind == "model"
    assert info.version == 3
    assert info.context_length == 4096
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert info.n_tensors == 3 + 9 * 2


def test_adapter_is_recognised_and_refused_as_a_model(tiny_lora: Path) -> None:
    assert inspect_gguf(tiny_lora).kind == "adapter"
    with pytest.raises(InvalidModel, match="LoRA adapter, not a model"):
        require_model(tiny_lora)


def test_not_a_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("just some text, not a model")
    with pytest.raises(InvalidModel, match="not a GGUF model file"):
        inspect_gguf(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidModel, match="does not exist"):
        inspect_gguf(tmp_path / "nope.gguf")


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.01])
def test_truncated_file_is_named_truncated(tiny_gguf: Path, tmp_path: Path, keep: float) -> None:
    data = tiny_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InvalidModel, match="truncated"):
        inspect_gguf(cut)


def test_unknown_version(tiny_gguf: Path, tmp_path: Path) -> None:
    data = bytearray(tiny_gguf.read_bytes())
    data[4:8] = (99).to_bytes(4, "little")
    odd = tmp_path / "v99.gguf"
    odd.write_bytes(bytes(data))
    with pytest.raises(InvalidModel, match="GGUF version 99"):
        inspect_gguf(odd)


def test_unsupported_architecture(tmp_path: Path) -> None:
    path = tmp_path / "alien.gguf"
    w = gguf.GGUFWriter(str(path), "alien-net")
    w.add_tensor("x.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(InvalidModel, match="'alien-net' model, an architecture"):
        inspect_gguf(path)


def test_engine_refuses_a_bad_file_before_llama_cpp_sees_it(tmp_path: Path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 3)
    engine = Engine(EngineSettings(idle_unload_s=0), model_path=bad)
    with pytest.raises(InvalidModel, match="truncated"):
        engine.load()
    assert not engine.loaded
