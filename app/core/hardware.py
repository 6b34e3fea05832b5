"""Facts about this machine: cores, memory, disk, GPU offload. Cheap to call."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import Any

import psutil


def physical_cores() -> int:
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_offload() -> bool | None:
    """Whether llama.cpp was built with GPU offload; None when llama-cpp-python is missing."""
    try:
        import llama_cpp
    except Exception:
        return None
    try:
        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:
        return False


def free_disk_bytes(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def facts(path: Path | None = None) -> dict[str, Any]:
    mem = psutil.virtual_memory()
    return {
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count() or 1,
        "physical_cores": physical_cores(),
        "ram_total_mb": mem.total // 2**20,
        "ram_available_mb": mem.available // 2**20,
        "gpu_offload": gpu_offload(),
        "free_disk_mb": free_disk_bytes(path or Path.home()) // 2**20,
    }
