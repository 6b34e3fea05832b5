"""LoRA fine-tuning on the user's own text, with torch + peft on the dequantized GGUF weights.

Optional (the ``lora`` extra): ``missing()`` says what is not installed. transformers loads
the GGUF the engine runs (``from_pretrained(dir, gguf_file=...)``, dequantized to float32);
tokens come from llama.cpp's own tokenizer of that file, so training and inference see the
same ids. Adapters go on the value and output projections of attention and on the MLP: those
tensors are stored in GGUF exactly as in transformers (the query/key rows are permuted for
rope in GGUF, so they are left alone and the export needs no permutation).

``LoraRun`` trains step by step so the idle scheduler can pause between steps; its state
(adapter weights, optimizer, step count) round-trips through ``checkpoint``/``restore`` as
bytes, which the caller keeps encrypted. Personal lane only; torch uses one thread.

``training_memory`` estimates a run's peak memory from the GGUF header (``read_shape``), so
the caller can refuse to start one the machine cannot hold: a 3B model dequantized to float32
alone is about 13 GB, and running out gets the whole app killed.
"""

from __future__ import annotations

import importlib.util
import io
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.personalization.lora_export import GGUF_NAMES

TARGET_MODULES = ("v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BATCH_SIZE = 1  # training windows per optimizer step (``LoraRun.step``)

# The memory estimate (``training_memory``); calibrated on a 104M-parameter f16 llama GGUF
# (transformers 5, torch 2.13, CPU, 129-token windows, rank 8): peak RSS above the imported
# libraries 0.65 GB while loading, 0.62 GB while training; the estimate before the margin
# says 0.62 and 0.61.
WEIGHT_BYTES = 4  # LoraRun loads the model in float32
LORA_BYTES = 28  # per LoRA parameter: weight, gradient, AdamW's 2 moments, checkpoint copy (3)
SAFETY_FACTOR = 1.2
RUNTIME_BYTES = 512 * 2**20  # torch, transformers and peft themselves, allocator slack
_BLOCK = re.compile(r"blk\.(\d+)\.(\w+)\.weight$")


def missing() -> str | None:
    """None when torch, transformers and peft are importable, else what to install."""
    absent = [m for m in ("torch", "transformers", "peft") if importlib.util.find_spec(m) is None]
    if absent:
        return (f"{', '.join(absent)} not installed: install the optional extra "
                "(pip install 'familiar[lora]')")
    return None


def windows(token_lists: Sequence[Sequence[int]], seq_len: int, bos: int) -> list[list[int]]:
    """Each text as BOS + tokens, cut into windows of at most ``seq_len`` tokens."""
    out: list[list[int]] = []
    for tokens in token_lists:
        ids = [bos, *tokens]
        for start in range(0, max(1, len(ids) - 1), seq_len):
            piece = ids[start : start + seq_len + 1]
            if len(piece) >= 2:
                out.append(piece)
    return out


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs from a GGUF header."""

    params: int  # elements of all tensors
    file_bytes: int
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_vocab: int
    lora_dims: int  # sum of n_in + n_out over the adapted matrices: rank * this = LoRA params


def read_shape(path: Path) -> ModelShape:
    """The shape of the GGUF model at ``path`` from its header (no tensor data is read)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    adapted = set(GGUF_NAMES.values())
    params = lora_dims = n_ff = 0
    layers: set[int] = set()
    n_embd = n_vocab = 0
    for tensor in reader.tensors:
        dims = [int(d) for d in tensor.shape]  # ggml order: n_in first
        params += int(tensor.n_elements)
        match = _BLOCK.match(tensor.name)
        if tensor.name == "token_embd.weight" and len(dims) >= 2:
            n_embd, n_vocab = dims[0], dims[1]
        elif match is not None:
            layers.add(int(match.group(1)))
            kind = match.group(2)
            if kind in adapted and len(dims) == 2:
                lora_dims += dims[0] + dims[1]
            if kind.startswith("ffn_up") and len(dims) >= 2:
                n_ff = max(n_ff, dims[1])
    heads = [int(field.parts[i][0]) for key, field in reader.fields.items()
             if key.endswith(".attention.head_count") for i in field.data]
    return ModelShape(params=params, file_bytes=path.stat().st_size, n_layer=len(layers),
                      n_embd=n_embd, n_ff=n_ff or 4 * n_embd,
                      n_head=max(heads, default=0) or max(1, n_embd // 128), n_vocab=n_vocab,
                      lora_dims=lora_dims)


def training_memory(shape: ModelShape, *, rank: int, tokens: int) -> int:
    """Estimated peak bytes of a run with LoRA ``rank`` and ``tokens`` per optimizer step.

    need = 1.2 * (4 P + max(F, 28 r D + A)) + 512 MiB, where P is the parameter count (the
    weights dequantized to float32), F the file size (its pages are read while dequantizing:
    the loading peak), r D the LoRA parameters (D = sum of n_in + n_out of the adapted
    matrices; 28 bytes each: weight, gradient, AdamW's two moments and the checkpoint's copy
    of the three), and A the activations kept for the backward pass (the training peak),
    A = 4 T (L (16 E + 8 H + 2 N T) + 4 V) for T tokens, L layers, embedding E, feed-forward
    H, N heads (attention scores) and vocabulary V (logits, their softmax and gradients).
    """
    activations = WEIGHT_BYTES * tokens * (
        shape.n_layer * (16 * shape.n_embd + 8 * shape.n_ff + 2 * shape.n_head * tokens)
        + 4 * shape.n_vocab)
    training = LORA_BYTES * rank * shape.lora_dims + activations
    peak = WEIGHT_BYTES * shape.params + max(shape.file_bytes, training)
    return int(SAFETY_FACTOR * peak) + RUNTIME_BYTES


class LoraRun:
    """One fine-tuning run: a base model with a fresh LoRA adapter and its optimizer."""

    def __init__(self, base: Path, train: Sequence[Sequence[int]], *, rank: int = 8,
                 alpha: int = 16, lr: float = 2e-3, seed: int = 0):
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        torch.set_num_threads(1)  # idle work: leave the cores to everything else
        torch.manual_seed(seed)
        self.rank = rank
        self.alpha = alpha
        base_model = AutoModelForCausalLM.from_pretrained(
            str(base.parent), gguf_file=base.name, dtype=torch.float32)  # WEIGHT_BYTES
        config = LoraConfig(r=rank, lora_alpha=int(alpha), lora_dropout=0.0, bias="none",
                            target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM")
        self.model = get_peft_model(base_model, config)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        self.train = [list(t) for t in train]
        self.steps = 0
        self._order: list[int] = []
        self._rng = random.Random(seed)

    def step(self) -> float:
        """One optimizer step on the next training window; returns its loss."""
        import torch

        if not self.train:
            raise ValueError("no training text")
        if not self._order:
            self._order = list(range(len(self.train)))
            self._rng.shuffle(self._order)
        ids = torch.tensor([self.train[self._order.pop()]])
        out = self.model(input_ids=ids, labels=ids)
        self.optimizer.zero_grad()
        out.loss.backward()
        self.optimizer.step()
        self.steps += 1
        return float(out.loss.detach())

    def loss(self, texts: Sequence[Sequence[int]]) -> float:
        """Mean token negative log-likelihood on ``texts`` (nats), without training."""
        import torch

        total, count = 0.0, 0
        self.model.eval()
        with torch.no_grad():
            for tokens in texts:
                ids = torch.tensor([list(tokens)])
                out = self.model(input_ids=ids, labels=ids)
                n = len(tokens) - 1
                total += float(out.loss) * n
                count += n
        self.model.train()
        return total / max(1, count)

    def lora_tensors(self) -> dict[str, Any]:
        """peft parameter name -> float32 numpy array, for the GGUF export."""
        return {name: p.detach().cpu().float().numpy()
                for name, p in self.model.named_parameters() if "lora_" in name}

    def checkpoint(self) -> bytes:
        import torch
        from peft import get_peft_model_state_dict

        buffer = io.BytesIO()
        torch.save({"adapter": get_peft_model_state_dict(self.model, save_embedding_layers=False),
                    "optimizer": self.optimizer.state_dict(), "steps": self.steps,
                    "order": self._order, "rng": self._rng.getstate()}, buffer)
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        import torch
        from peft import set_peft_model_state_dict

        saved = torch.load(io.BytesIO(data), weights_only=True)  # tensors and plain values only
        set_peft_model_state_dict(self.model, saved["adapter"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.steps = int(saved["steps"])
        self._order = list(saved["order"])
        self._rng.setstate(saved["rng"])
