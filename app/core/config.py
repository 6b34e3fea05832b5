"""Typed settings with every default in one place, versioned, stored in the encrypted store.

Each section is a dataclass; ``Settings`` holds them all. ``to_dict``/``from_dict`` go through
JSON (never pickle). Unknown keys are dropped and missing keys take their defaults, so an older
or newer file still loads; structural changes go through numbered ``SETTINGS_MIGRATIONS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_type_hints

SETTINGS_VERSION = 1


@dataclass
class EngineSettings:
    model_path: str = ""
    context_size: int = 4096
    threads: int = 0  # 0: physical cores
    gpu_layers: int = -1  # -1: auto (all when llama.cpp reports GPU offload, else 0)
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int = -1
    idle_unload_s: float = 600.0
    batch_size: int = 512  # prompt tokens per llama.cpp decode call
    use_mmap: bool = True


@dataclass
class MemorySettings:
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = 64
    embedding_threads: int = 0  # 0: physical cores
    # onnx: the bundled model on onnxruntime (same vectors, faster queries); torch: always
    # sentence-transformers on torch. Other models always run on torch.
    embedding_backend: str = "onnx"
    chunk_tokens: int = 200
    chunk_overlap_tokens: int = 24
    max_chunks_per_file: int = 3
    max_text_chars_per_file: int = 2_000_000
    # anchored | convex | rrf | dense | bm25 (tuned on the train sets: docs/memory.md)
    fusion: str = "anchored"
    # Candidates taken from each side before fusion (3k when k is larger): the depth the
    # fusion was tuned at, for every k, so the app ranks as the bench measures.
    fusion_candidates: int = 300
    dense_weight: float = 0.4  # convex and rrf
    # anchored: dense weight for a query of keywords, rising to 1 (dense alone) as the share
    # of function words goes from function_words_low to function_words_high; a candidate
    # anchored_scale below the dense top cosine loses a whole unit of the dense part.
    anchored_dense_weight: float = 0.35
    anchored_scale: float = 0.4
    function_words_low: float = 0.25
    function_words_high: float = 0.6
    # anchored: the dense weight then moves dense_lead_share of the way to 1 as the dense top
    # cosine leads the cosine at index dense_lead_rank by up to dense_lead_span.
    dense_lead_rank: int = 3
    dense_lead_span: float = 0.1
    dense_lead_share: float = 0.25
    rrf_k: float = 60.0
    bm25_saturation: float = 10.0
    bm25_heading_weight: float = 1.0
    # BM25 queries only the rarest query terms whose document counts sum to at most this
    # (search latency at 100k chunks; collections below this size are never affected).
    bm25_postings_budget: int = 5000
    # A one-word query whose word occurs in at most this many chunks is a lookup: those
    # chunks come first (in fused order). 0: off.
    lookup_max_matches: int = 10


@dataclass
class IndexingSettings:
    global_excludes: list[str] = field(default_factory=list)
    respect_gitignore: bool = True
    max_file_mb: int = 50
    pause_on_battery: bool = False
    paused: bool = False
    debounce_s: float = 1.0
    reconcile_interval_s: float = 900.0
    fallback_reconcile_s: float = 120.0  # while watching a folder fails
    max_pending_events: int = 20000  # beyond this a burst becomes one folder scan


@dataclass
class AssistantSettings:
    history_turns: int = 6
    passages: int = 8
    memories: int = 3
    extractive_passages: int = 3


@dataclass
class PersonalizationSettings:
    memories_enabled: bool = True
    reranker_enabled: bool = True
    idle_minutes: float = 5.0
    only_on_ac: bool = False
    max_memories: int = 200
    lora_enabled: bool = False
    extraction_batch: int = 6  # user messages per model call
    min_confidence: float = 0.5  # extracted candidates below this are not kept
    duplicate_similarity: float = 0.88  # cosine: the same memory said again (no model call)
    related_similarity: float = 0.55  # cosine: the model decides duplicate / replaces / new
    recall_min_similarity: float = 0.2  # MiniLM: "where do I live?" vs "lives in Berlin" 0.27
    ranker_candidates: int = 30  # fused hits the reranker reorders
    ranker_min_examples: int = 20  # labelled pairs before the reranker is applied
    ranker_l2: float = 1.0  # pull towards the plain fused ranking
    lora_budget_minutes: float = 20.0  # training time per idle session
    lora_steps: int = 300  # optimizer steps of one fine-tuning run
    lora_rank: int = 8
    lora_learning_rate: float = 2e-4
    lora_min_texts: int = 20  # the user's own messages needed before training


@dataclass
class PrivacySettings:
    lock_after_idle_min: float = 0.0  # 0: never


@dataclass
class UiSettings:
    theme: str = "system"  # system | light | dark
    hotkey: str = "<ctrl>+<alt>+space"
    start_at_login: bool = False
    tray_notice_shown: bool = False


@dataclass
class Settings:
    version: int = SETTINGS_VERSION
    engine: EngineSettings = field(default_factory=EngineSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    indexing: IndexingSettings = field(default_factory=IndexingSettings)
    assistant: AssistantSettings = field(default_factory=AssistantSettings)
    personalization: PersonalizationSettings = field(default_factory=PersonalizationSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    ui: UiSettings = field(default_factory=UiSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        return _build(cls, migrate(raw))


# Numbered migrations: SETTINGS_MIGRATIONS[n] turns a version-n dict into version n+1.
SETTINGS_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    data = dict(raw)
    version = int(data.get("version", 1))
    if version > SETTINGS_VERSION:
        # Written by a newer Familiar: keep what we understand, defaults for the rest.
        data["version"] = SETTINGS_VERSION
        return data
    while version < SETTINGS_VERSION:
        data = SETTINGS_MIGRATIONS[version](data)
        version += 1
        data["version"] = version
    return data


D = TypeVar("D")


def _build(cls: type[D], raw: Any) -> D:
    if not isinstance(raw, dict):
        return cls()
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in raw:
            continue
        value = raw[f.name]
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            kwargs[f.name] = _build(kind, value)
        elif _fits(kind, value):
            kwargs[f.name] = value
    return cls(**kwargs)


def _fits(kind: Any, value: Any) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in (str, bool):
        return isinstance(value, kind)
    origin = getattr(kind, "__origin__", None)
    if origin is list:
        return isinstance(value, list)
    return True
