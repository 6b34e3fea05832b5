"""LoRA training refuses to start when the machine lacks the memory for it: the estimate from
the GGUF header (the tiny model, and a 3B-class header whose tensors are never written), and
the task waiting, with a readable reason, until an idle session finds enough free memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gguf
import numpy as np
import psutil
import pytest

from app.core.assistant.conversations import Conversations
from app.core.config import PersonalizationSettings
from app.core.personalization import lora_train
from app.core.personalization.adapters import CHECKPOINT_BLOB, SEQ_LEN, LoraTask
from app.core.personalization.lora_train import ModelShape, read_shape, training_memory
from app.core.personalization.scheduler import IdleScheduler
from app.core.personalization.state import PersonalState
from app.core.tasks import TaskState
from tests.fixtures.tiny_gguf import TOKENS

GB = 10**9
TOKENS_PER_STEP = lora_train.BATCH_SIZE * (SEQ_LEN + 1)
needs_lora = pytest.mark.skipif(lora_train.missing() is not None,
                                reason=f"the lora extra is not installed: {lora_train.missing()}")


def build_header_only_llama(path: Path, *, n_embd: int, n_layer: int, n_head: int,
                            n_head_kv: int, n_ff: int, n_vocab: int) -> Path:
    """A llama GGUF whose header describes Q4_0 tensors of the given shapes and whose data is
    a hole (a sparse file): a 3B-class header costs a few kB of disk. Not loadable."""
    qtype = gguf.GGMLQuantizationType.Q4_0
    block, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(n_layer)
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    data_bytes = 0

    def info(name: str, *shape: int) -> None:
        nonlocal data_bytes
        n = int(np.prod(shape))
        quantized = len(shape) == 2
        nbytes = n // block * block_bytes if quantized else n * 4
        writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes,
                               raw_dtype=qtype if quantized else gguf.GGMLQuantizationType.F32)
        data_bytes += gguf.GGUFWriter.ggml_pad(nbytes, writer.data_alignment)

    kv = n_embd // n_head * n_head_kv
    info("token_embd.weight", n_vocab, n_embd)  # numpy order: rows (n_out) first
    info("output_norm.weight", n_embd)
    for i in range(n_layer):
        info(f"blk.{i}.attn_norm.weight", n_embd)
        info(f"blk.{i}.attn_q.weight", n_embd, n_embd)
        info(f"blk.{i}.attn_k.weight", kv, n_embd)
        info(f"blk.{i}.attn_v.weight", kv, n_embd)
        info(f"blk.{i}.attn_output.weight", n_embd, n_embd)
        info(f"blk.{i}.ffn_norm.weight", n_embd)
        info(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        info(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        info(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = gguf.GGUFWriter.ggml_pad(os.path.getsize(path), writer.data_alignment)
    with open(path, "r+b") as handle:
        handle.truncate(header + data_bytes)
    return path


# --- the estimate ---------------------------------------------------------------------------------

def test_shape_and_estimate_of_the_tiny_model(tiny_gguf: Path) -> None:
    shape = read_shape(tiny_gguf)
    n_vocab, n_embd, n_ff, n_layer = len(TOKENS), 64, 128, 2
    per_layer = 2 * n_embd + n_embd * (4 * n_embd + 3 * n_ff)  # 2 norms, q k v o, gate up down
    assert shape == ModelShape(
        params=2 * n_vocab * n_embd + n_embd + n_layer * per_layer,
        file_bytes=tiny_gguf.stat().st_size, n_layer=n_layer, n_embd=n_embd, n_ff=n_ff,
        n_head=4, n_vocab=n_vocab,
        # LoRA on v, o (64 -> 64) and gate, up (64 -> 128), down (128 -> 64)
        lora_dims=n_layer * (2 * (64 + 64) + 3 * (64 + 128)))
    needed = training_memory(shape, rank=8, tokens=TOKENS_PER_STEP)
    # The libraries' allowance dominates; the model itself is a few MB.
    assert lora_train.RUNTIME_BYTES < needed < lora_train.RUNTIME_BYTES + 10 * 2**20
    assert round(needed / GB, 2) == 0.54


def test_estimate_of_a_3b_class_header(tmp_path: Path) -> None:
    # Llama 3.2 3B's shapes (tied embeddings, so no output.weight), as Q4_0.
    path = build_header_only_llama(tmp_path / "three-b.gguf", n_embd=3072, n_layer=28,
                                   n_head=24, n_head_kv=8, n_ff=8192, n_vocab=128256)
    assert path.stat().st_blocks * 512 < 10 * 2**20  # the data is a hole
    shape = read_shape(path)
    assert shape.params == 3_212_749_824
    assert (shape.n_layer, shape.n_embd, shape.n_ff, shape.n_head, shape.n_vocab) == (
        28, 3072, 8192, 24, 128256)
    needed = training_memory(shape, rank=8, tokens=TOKENS_PER_STEP)
    # float32 weights alone are 12.9 GB: 1.2 x (12.85 + 2.29 training) + 0.54 = 18.7 GB.
    assert 4 * shape.params < needed
    assert round(needed / GB, 1) == 18.7


def test_estimate_follows_the_formula() -> None:
    shape = ModelShape(params=10**9, file_bytes=6 * 10**8, n_layer=10, n_embd=1000, n_ff=3000,
                       n_head=10, n_vocab=50_000, lora_dims=100_000)
    activations = 4 * 100 * (10 * (16 * 1000 + 8 * 3000 + 2 * 10 * 100) + 4 * 50_000)
    training = 28 * 8 * 100_000 + activations  # 22.4 MB + 242.4 MB: less than the file
    assert training < shape.file_bytes
    assert training_memory(shape, rank=8, tokens=100) == int(1.2 * (4 * 10**9 + 6 * 10**8)) + (
        512 * 2**20)
    longer = training_memory(shape, rank=8, tokens=1000)  # activations now exceed the file
    assert longer > training_memory(shape, rank=8, tokens=100)
    assert training_memory(shape, rank=64, tokens=1000) > longer


# --- the task --------------------------------------------------------------------------------------

def inline(fn: Any) -> Any:
    return fn()


@pytest.fixture
def texts(unlocked: Any) -> Iterator[Any]:
    chat = Conversations(unlocked.store)
    conversation = chat.create()
    for i in range(24):
        chat.add_message(conversation.id, "user", f"my cat mimi sleeps on the red sofa {i}")
    yield unlocked


def fake_memory(monkeypatch: pytest.MonkeyPatch, available: int) -> None:
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=available))


def make_task(profile: Any, model: Path, **kwargs: Any) -> LoraTask:
    settings = PersonalizationSettings(lora_enabled=True, lora_steps=20, lora_rank=4,
                                       lora_learning_rate=1e-2, lora_min_texts=10)
    engine = SimpleNamespace(model_path=model)  # the memory check only needs the model's path
    return LoraTask(profile.store, profile.blobs, settings, lambda: engine,
                    PersonalState(profile.store), inline, **kwargs)


@needs_lora
def test_refuses_to_start_without_the_memory_then_trains_once_it_is_free(
        texts: Any, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = make_task(texts, tiny_gguf)
    fake_memory(monkeypatch, 100 * 10**6)
    reason = task.waiting_reason()
    assert reason == ("not enough free memory to train on this model: needs about 0.5 GB, "
                      "0.1 GB available")
    assert task.status()["waiting"] == reason and not task.pending()
    # The idle scheduler sees nothing to do: no session starts, nothing is loaded.
    scheduler = IdleScheduler(task.settings, [task], power=lambda: True)
    scheduler.set_window_hidden(True)
    assert scheduler.tick() == "nothing to do"
    assert task._run is None and not texts.blobs.exists(CHECKPOINT_BLOB)
    # An adapter already trained on this model needs no memory: no alarming status then.
    task.state_store.set("lora.state", {"phase": "ready", "base": str(tiny_gguf)})
    assert task.waiting_reason() is None and not task.pending()
    task.state_store.delete("lora.state")

    # The next idle session finds the memory free again: the run starts and trains.
    fake_memory(monkeypatch, 64 * GB)
    assert task.waiting_reason() is None and task.pending()
    result = task.step(TaskState())
    assert result["steps"] == 10 and texts.blobs.exists(CHECKPOINT_BLOB)
    # A loaded run holds its memory already: it is not refused for the memory it uses.
    fake_memory(monkeypatch, 0)
    assert task.waiting_reason() is None


@needs_lora
def test_memory_gone_between_pending_and_step_ends_the_session(texts: Any,
                                                               tiny_gguf: Path) -> None:
    readings = iter([64 * GB, 10**8, 10**8])  # pending() yes, then step() and pending() no
    task = make_task(texts, tiny_gguf, free_memory=lambda: next(readings))
    scheduler = IdleScheduler(task.settings, [task], power=lambda: True)
    scheduler.set_window_hidden(True)
    done = scheduler.run_session(TaskState())
    assert done["lora"]["waiting"].startswith("not enough free memory to train on this model")
    assert done["lora"]["session_budget_spent"] is True  # done for this idle session
    assert task._run is None and not texts.blobs.exists(CHECKPOINT_BLOB)


@needs_lora
def test_unreadable_model_or_memory_never_crashes(texts: Any, tmp_path: Path,
                                                  tiny_gguf: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF not really")
    task = make_task(texts, broken)
    assert task.waiting_reason() == (
        "cannot read the model file to tell how much memory training needs")
    assert not task.pending()

    def no_sensor() -> int:
        raise OSError("no /proc/meminfo")

    blind = make_task(texts, tiny_gguf, free_memory=no_sensor)
    assert blind.waiting_reason() is None  # cannot tell: the estimate does not block
