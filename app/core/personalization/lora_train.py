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
"""

from __future__ import annotations

import importlib.util
import io
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TARGET_MODULES = ("v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


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
            str(base.parent), gguf_file=base.name, dtype=torch.float32)
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
