"""Will a model fit this machine? Memory estimates and the labels people see.

A GGUF is memory-mapped, so its weights need about their file size in RAM, plus the KV cache
(2 x layers x kv-width x context x 2 bytes for f16) and a fixed runtime overhead. Labels:
"fits well" when the estimate leaves room for the rest of the desktop, "will be slow" when it
fits only by squeezing (or the machine has few cores for its size), "too big for this machine"
when it exceeds physical RAM. Pure functions: any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.engine.errors import ModelTooBig

FITS_WELL = "fits well"
WILL_BE_SLOW = "will be slow"
TOO_BIG = "too big for this machine"

RUNTIME_OVERHEAD_BYTES = 300 * 2**20
# Leave this share of RAM to the OS and the user's other programs for "fits well".
COMFORT_SHARE = 0.6
# Parameters (billions) per physical core that still stream at reading speed on a CPU alone
# (a Q4 model is memory-bound; ~1.5 B per core keeps it near 5+ tokens/s on a laptop).
BILLIONS_PER_CORE = 1.5


@dataclass(frozen=True)
class Machine:
    ram_total_bytes: int
    ram_available_bytes: int
    physical_cores: int
    gpu_offload: bool
    free_disk_bytes: int

    @classmethod
    def from_facts(cls, facts: dict[str, Any]) -> Machine:
        return cls(
            ram_total_bytes=int(facts["ram_total_mb"]) * 2**20,
            ram_available_bytes=int(facts["ram_available_mb"]) * 2**20,
            physical_cores=int(facts["physical_cores"]),
            gpu_offload=bool(facts.get("gpu_offload")),
            free_disk_bytes=int(facts["free_disk_mb"]) * 2**20,
        )


def kv_cache_bytes(n_ctx: int, n_layer: int, n_embd_kv: int) -> int:
    return 2 * n_layer * n_embd_kv * n_ctx * 2


def estimate_ram_bytes(file_bytes: int, n_ctx: int, n_layer: int | None = None,
                       n_embd_kv: int | None = None) -> int:
    """RAM to run a model: weights + KV cache (guessed at 1/8 of weights when unknown)."""
    if n_layer and n_embd_kv:
        kv = kv_cache_bytes(n_ctx, n_layer, n_embd_kv)
    else:
        kv = file_bytes // 8
    return file_bytes + kv + RUNTIME_OVERHEAD_BYTES


def label(ram_needed: int, params_billion: float | None, machine: Machine) -> str:
    if ram_needed > machine.ram_total_bytes:
        return TOO_BIG
    if ram_needed > machine.ram_total_bytes * COMFORT_SHARE:
        return WILL_BE_SLOW
    if (not machine.gpu_offload and params_billion is not None
            and params_billion > machine.physical_cores * BILLIONS_PER_CORE):
        return WILL_BE_SLOW
    return FITS_WELL


def check_fits(name: str, ram_needed: int, machine: Machine) -> None:
    """Raise ModelTooBig with a next step when ``ram_needed`` exceeds physical RAM."""
    if ram_needed > machine.ram_total_bytes:
        raise ModelTooBig(
            f"'{name}' needs about {gib(ram_needed)} of memory but this machine has "
            f"{gib(machine.ram_total_bytes)}; choose a smaller model "
            "('familiar models recommend') or lower the context size"
        )


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GB"
