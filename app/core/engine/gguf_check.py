"""Validate a GGUF file before llama.cpp sees it, so a bad file gives a clear error, not a crash.

Reads only the header, metadata and tensor table (never the weights), checks the magic, the
version, the architecture and that the file is long enough for every tensor it declares.
Cheap enough to run before every load; safe from any thread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import gguf

from app.core.engine.errors import InvalidModel

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
# Architectures gguf-py knows; llama.cpp built alongside it loads these.
SUPPORTED_ARCHITECTURES = frozenset(gguf.MODEL_ARCH_NAMES.values())
_MAX_COUNT = 10_000_000

_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
                            7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GgufInfo:
    """What the header says about a model or adapter file."""

    path: Path
    version: int
    architecture: str
    kind: str  # "model" or "adapter"
    name: str
    size_bytes: int
    n_tensors: int
    context_length: int | None
    chat_template: str | None
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)


class _Reader:
    def __init__(self, f: BinaryIO, size: int, label: str):
        self.f = f
        self.size = size
        self.label = label

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise InvalidModel(_truncated(self.label))
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self, keep: bool = True) -> str:
        n = self.unpack("<Q")
        if n > self.size:
            raise InvalidModel(_truncated(self.label))
        if not keep:
            self.f.seek(n, 1)
            return ""
        return self.read(n).decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item_kind = self.unpack("<I")
            count = self.unpack("<Q")
            if count > self.size:
                raise InvalidModel(_truncated(self.label))
            if item_kind in _SCALARS:
                self.f.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return f"<array of {count}>"
        raise InvalidModel(f"{self.label} is damaged (unknown metadata type {kind}); "
                           "download it again")


def _truncated(label: str) -> str:
    return (f"{label} is truncated (shorter than its header says); "
            "download or copy it again")


def inspect_gguf(path: Path) -> GgufInfo:
    """Parse and check ``path``; raise InvalidModel with a next step when it is not loadable."""
    path = Path(path)
    label = f"'{path.name}'"
    if not path.is_file():
        raise InvalidModel(f"{label} does not exist or is not a file; check the path")
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
        if magic != MAGIC:
            raise InvalidModel(f"{label} is not a GGUF model file; pick a .gguf file "
                               "(see 'familiar models list')")
        r = _Reader(f, size, label)
        version = r.unpack("<I")
        if version not in SUPPORTED_VERSIONS:
            raise InvalidModel(f"{label} uses GGUF version {version}, which this build does "
                               "not read; download a current GGUF of the model")
        n_tensors = r.unpack("<Q")
        n_kv = r.unpack("<Q")
        if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
            raise InvalidModel(f"{label} is damaged (impossible header counts); "
                               "download it again")
        meta: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string()
            kind = r.unpack("<I")
            meta[key] = r.value(kind, keep=True)
        data_needed = 0
        for _ in range(n_tensors):
            r.string(keep=False)
            n_dims = r.unpack("<I")
            if n_dims > 8:
                raise InvalidModel(f"{label} is damaged (bad tensor table); download it again")
            dims = [r.unpack("<Q") for _ in range(n_dims)]
            ggml_type = r.unpack("<I")
            offset = r.unpack("<Q")
            data_needed = max(data_needed, offset + _tensor_bytes(dims, ggml_type, label))
        alignment = int(meta.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT) or 32)
        header_end = f.tell()
    data_start = -(-header_end // alignment) * alignment
    if data_start + data_needed > size:
        raise InvalidModel(_truncated(label))

    arch = str(meta.get("general.architecture", ""))
    if not arch:
        raise InvalidModel(f"{label} does not name its architecture; it is not a model "
                           "llama.cpp can load")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise InvalidModel(f"{label} is a '{arch}' model, an architecture this llama.cpp "
                           "build does not support; choose a model from 'familiar models list'")
    kind = "adapter" if meta.get("general.type") == "adapter" else "model"
    ctx = meta.get(f"{arch}.context_length")
    template = meta.get("tokenizer.chat_template")
    return GgufInfo(
        path=path,
        version=version,
        architecture=arch,
        kind=kind,
        name=str(meta.get("general.name", path.stem)),
        size_bytes=size,
        n_tensors=n_tensors,
        context_length=int(ctx) if isinstance(ctx, int) else None,
        chat_template=template if isinstance(template, str) else None,
        metadata=meta,
    )


def _tensor_bytes(dims: list[int], ggml_type: int, label: str) -> int:
    try:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise InvalidModel(f"{label} uses tensor type {ggml_type}, which this build does not "
                           "know; download a current GGUF of the model") from None
    count = 1
    for d in dims:
        count *= d
    return count // block * type_size


def require_model(path: Path) -> GgufInfo:
    """``inspect_gguf`` that also refuses adapters (they are not models)."""
    info = inspect_gguf(path)
    if info.kind != "model":
        raise InvalidModel(f"'{path.name}' is a LoRA adapter, not a model; load a model first "
                           "and the adapter on top of it")
    return info
