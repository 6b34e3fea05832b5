"""LoRA adapters (GGUF) hot-loaded onto a loaded llama.cpp model, and taken off again.

llama-cpp-python 0.3.x only applies ``lora_path`` at construction; to switch adapters without
reloading the model this uses the low-level API it ships: ``llama_adapter_lora_init`` on the
model, ``llama_set_adapters_lora`` on the context (an empty list removes it), then resets the
token cache so no prefix computed with other weights is reused. llama.cpp frees adapters with
their model, so an unloaded model's handle is forgotten, never freed twice. llm lane only.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp

from app.core.engine.errors import InvalidModel
from app.core.engine.gguf_check import GgufInfo, inspect_gguf


@dataclass(frozen=True)
class Adapter:
    path: Path
    scale: float
    handle: Any = None  # llama_adapter_lora_p while attached to a loaded model


def check_adapter(path: Path, model: GgufInfo) -> GgufInfo:
    info = inspect_gguf(path)
    if info.kind != "adapter":
        raise InvalidModel(f"'{path.name}' is a model, not a LoRA adapter; pick the adapter "
                           "file made for this model")
    if info.architecture != model.architecture:
        raise InvalidModel(f"'{path.name}' is an adapter for '{info.architecture}' models but "
                           f"the loaded model is '{model.architecture}'; use an adapter "
                           "trained for this model")
    return info


def attach(llm: llama_cpp.Llama, path: Path, scale: float) -> Adapter:
    handle = llama_cpp.llama_adapter_lora_init(llm._model.model, str(path).encode("utf-8"))
    if not handle:
        raise InvalidModel(f"llama.cpp refused the adapter '{path.name}' (its tensors do not "
                           "match this model); use an adapter trained for this model")
    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
    scales = (ctypes.c_float * 1)(scale)
    if llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, adapters, 1, scales) != 0:
        llama_cpp.llama_adapter_lora_free(handle)
        raise InvalidModel(f"llama.cpp could not apply the adapter '{path.name}'; "
                           "reload the model and try again")
    llm.reset()  # type: ignore[no-untyped-call]
    return Adapter(path, scale, handle)


def detach(llm: llama_cpp.Llama, adapter: Adapter) -> None:
    llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, None, 0, None)
    if adapter.handle is not None:
        llama_cpp.llama_adapter_lora_free(adapter.handle)
    llm.reset()  # type: ignore[no-untyped-call]


def forget_handle(adapter: Adapter) -> Adapter:
    """The same adapter, to re-attach after the model reloads (its handle died with it)."""
    return Adapter(adapter.path, adapter.scale, None)
