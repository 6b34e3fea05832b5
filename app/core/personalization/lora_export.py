"""Export trained LoRA weights as a GGUF LoRA adapter, the format llama.cpp loads.

Same layout as llama.cpp's convert_lora_to_gguf (and the tests' ``build_tiny_lora``): general
type "adapter", adapter.type "lora", adapter.lora.alpha, and per target tensor
``<gguf tensor name>.lora_a`` (rank x n_in) and ``.lora_b`` (n_out x rank) in float32.
llama.cpp scales by alpha / rank, as peft does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gguf
import numpy as np

# transformers llama module -> GGUF tensor (only tensors stored unpermuted in GGUF)
GGUF_NAMES = {
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])(?:\.default)?\.weight$")


def gguf_tensors(lora: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """peft parameter names -> GGUF adapter tensor names (``blk.N.attn_v.weight.lora_a``)."""
    out: dict[str, np.ndarray] = {}
    for name, value in lora.items():
        match = _PEFT.search(name)
        if match is None or match.group(2) not in GGUF_NAMES:
            raise ValueError(f"cannot map the LoRA tensor {name!r} to GGUF")
        layer, module, part = match.groups()
        target = f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{part.lower()}"
        out[target] = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
    return out


def write_adapter(lora: Mapping[str, Any], path: Path, alpha: float,
                  architecture: str = "llama") -> Path:
    """Write the adapter GGUF to ``path`` (a private temporary file; the caller encrypts it)."""
    tensors = gguf_tensors(lora)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
