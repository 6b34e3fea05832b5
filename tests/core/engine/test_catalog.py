"""The curated catalog and the labels and default it gives a machine."""

from __future__ import annotations

import re

import pytest

from app.core.engine import catalog, sizing
from app.core.engine.errors import EngineError, ModelTooBig
from app.core.engine.sizing import FITS_WELL, TOO_BIG, WILL_BE_SLOW, Machine

GB = 2**30


def machine(ram_gb: float, cores: int, gpu: bool = False) -> Machine:
    ram = int(ram_gb * GB)
    return Machine(ram, ram, cores, gpu, 100 * GB)


def test_entries_are_complete_and_honest() -> None:
    entries = catalog.load_catalog()
    assert len({e.id for e in entries}) == len(entries) >= 8
    for e in entries:
        assert e.file.endswith(".gguf") and "/" in e.repo and e.license
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256)
        assert e.size_bytes is None or e.size_bytes == e.approx_size_bytes
        assert 0.3 <= e.params_billion <= 8.5 and e.context_length >= 4096
        # The RAM figure is the formula's, not a number typed in by hand.
        assert e.ram_needed_mb == sizing.estimate_ram_bytes(
            e.approx_size_bytes, 4096, e.layers, e.kv_width) // 2**20
    families = {e.id.split("-")[0] for e in entries}
    assert {"qwen2.5", "llama", "phi", "gemma"} <= families


def test_small_laptop_gets_labels_and_one_default() -> None:
    rated = catalog.rate(catalog.load_catalog(), machine(6, 2))
    by_id = {r.entry.id: r for r in rated}
    assert by_id["llama-3.1-8b-instruct"].label in (WILL_BE_SLOW, TOO_BIG)
    assert by_id["qwen2.5-0.5b-instruct"].label == FITS_WELL
    [best] = [r for r in rated if r.recommended]
    assert best.label == FITS_WELL


def test_big_machine_with_gpu_gets_the_best_ranked_model() -> None:
    best = catalog.recommend(catalog.load_catalog(), machine(64, 16, gpu=True))
    assert best is not None and best.rank == 1


def test_tiny_machine_gets_no_default_and_a_clear_refusal() -> None:
    tiny = machine(0.5, 1)
    assert catalog.recommend(catalog.load_catalog(), tiny) is None
    assert all(r.label == TOO_BIG and not r.recommended
               for r in catalog.rate(catalog.load_catalog(), tiny))
    entry = catalog.find("qwen2.5-7b-instruct")
    with pytest.raises(ModelTooBig, match="choose a smaller model"):
        sizing.check_fits(entry.name, entry.ram_needed_bytes, tiny)


def test_unknown_id() -> None:
    with pytest.raises(EngineError, match="familiar models list"):
        catalog.find("gpt-17")
