"""The user's own LoRA adapter (opt-in, experimental): trained in idle time, kept encrypted,
loaded into the engine without leaving plaintext weights on disk, reset in one call.

``LoraTask`` is an ``IdleTask``: each step trains a few optimizer steps (pausable between
steps), then checkpoints the run into an encrypted blob, so the next idle session resumes;
``lora_budget_minutes`` caps training per idle session. When ``lora_steps`` are done the
adapter is exported to GGUF, encrypted (``profile.blobs``), measured (held-out perplexity of
the user's own text through llama.cpp, with and without it) and attached to the engine.
A run only starts when the memory available now covers ``lora_train.training_memory`` for the
model; otherwise the task waits, and the next idle session looks again.

Plaintext adapter bytes exist only in RAM: on Linux the GGUF is written to and read from an
anonymous memory file (``memfd_create``, path ``/proc/self/fd/N``), kept open while the
adapter is attached because the engine re-attaches it after an idle unload. Elsewhere a file
in a private (0700) temporary folder stands in, removed when the adapter is reset or the
profile closes. Personal lane, except ``activate``/``reset`` which send the engine call to
the llm lane through ``run_model``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from app.core.config import PersonalizationSettings
from app.core.personalization import lora_train
from app.core.personalization.lora_export import write_adapter
from app.core.personalization.state import PersonalState
from app.core.tasks import TaskState

log = logging.getLogger(__name__)

ADAPTER_BLOB = "lora-adapter.gguf"
CHECKPOINT_BLOB = "lora-checkpoint.pt"
STATE_KEY = "lora.state"
SEQ_LEN = 128
STEPS_PER_CALL = 10
HELD_OUT_SHARE = 0.1


class PrivateFile:
    """A path whose bytes live in RAM (memfd) where the OS allows it."""

    def __init__(self, name: str):
        self._fd: int | None = None
        self._dir: str | None = None
        if hasattr(os, "memfd_create"):
            self._fd = os.memfd_create(name, 0)
            self.path = Path(f"/proc/{os.getpid()}/fd/{self._fd}")
        else:
            self._dir = tempfile.mkdtemp(prefix="familiar-")
            os.chmod(self._dir, 0o700)
            self.path = Path(self._dir) / name

    def write(self, data: bytes) -> Path:
        with open(self.path, "wb") as handle:
            handle.write(data)
        return self.path

    def read(self) -> bytes:
        return self.path.read_bytes()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def user_texts(store: Any) -> list[str]:
    """The user's own text: their messages and the answers they rated up, oldest first."""
    rows = store.conn.execute(
        "SELECT text FROM messages WHERE (role = 'user' OR feedback > 0) AND "
        "status IN ('complete', 'extractive') ORDER BY id").fetchall()
    return [str(r[0]) for r in rows if str(r[0]).strip()]


def tokenize(base: Path, texts: Sequence[str]) -> tuple[list[list[int]], int]:
    """llama.cpp's tokens of ``texts`` for the model at ``base`` (no BOS) and its BOS id."""
    import llama_cpp

    vocab = llama_cpp.Llama(model_path=str(base), vocab_only=True, verbose=False)
    try:
        tokens = [list(vocab.tokenize(t.encode("utf-8"), add_bos=False, special=False))
                  for t in texts]
        return tokens, int(vocab.token_bos())
    finally:
        vocab.close()


def perplexity(base: Path, adapter: Path | None, windows: Sequence[Sequence[int]]) -> float:
    """exp(mean next-token NLL) of ``windows`` under llama.cpp, with or without the adapter."""
    import llama_cpp

    n_ctx = max(64, max((len(w) for w in windows), default=0) + 8)
    llm = llama_cpp.Llama(model_path=str(base), lora_path=str(adapter) if adapter else None,
                          n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, n_threads=1,
                          verbose=False)
    try:
        total, count = 0.0, 0
        for window in windows:
            llm.reset()  # type: ignore[no-untyped-call]
            llm.eval(list(window))
            logits = np.asarray(llm.scores[: len(window) - 1], dtype=np.float64)
            top = logits.max(axis=1, keepdims=True)
            logz = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
            targets = np.asarray(window[1:])
            total += float((logz - logits[np.arange(len(targets)), targets]).sum())
            count += len(targets)
        return float(np.exp(total / max(1, count)))
    finally:
        llm.close()


def available_memory() -> int:
    """Bytes the OS can give now without swapping (psutil's ``available``)."""
    return int(psutil.virtual_memory().available)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


class LoraTask:
    """Idle-time fine-tuning of the user's adapter, and its life in the engine."""

    name = "lora"

    def __init__(self, store: Any, blobs: Any, settings: PersonalizationSettings,
                 engine: Callable[[], Any | None], state_store: PersonalState,
                 run_model: Callable[[Callable[[], Any]], Any],
                 clock: Callable[[], float] = time.monotonic,
                 free_memory: Callable[[], int] = available_memory):
        self.store = store
        self.blobs = blobs
        self.settings = settings
        self._engine = engine
        self.state_store = state_store
        self._run_model = run_model
        self._clock = clock
        self._free_memory = free_memory
        self._estimate: tuple[tuple[str, int, int, int], int | None] | None = None
        self._run: lora_train.LoraRun | None = None
        self._held_out: list[list[int]] = []
        self._session: int | None = None
        self._session_started = 0.0
        self._attached: PrivateFile | None = None

    # --- state ----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        saved = dict(self.state_store.get(STATE_KEY, {}) or {})
        return {"enabled": self.settings.lora_enabled, "waiting": self.waiting_reason(),
                "attached": self._attached is not None, **saved}

    def _base(self) -> Path | None:
        engine = self._engine()
        path = getattr(engine, "model_path", None) if engine is not None else None
        return Path(path) if path else None

    def waiting_reason(self) -> str | None:
        if not self.settings.lora_enabled:
            return "the personal model is turned off"
        reason = lora_train.missing()
        if reason:
            return reason
        base = self._base()
        if base is None:
            return "waiting for a model"
        if len(user_texts(self.store)) < self.settings.lora_min_texts:
            return "not enough of your own text yet"
        if self._run is not None:  # a loaded run already holds its memory
            return None
        saved = self.state_store.get(STATE_KEY, {}) or {}
        if saved.get("phase") == "ready" and saved.get("base") == str(base):
            return None  # trained: nothing needs the memory
        return self._memory_reason(base)

    def needed_memory(self, base: Path) -> int | None:
        """Estimated peak bytes of a run on ``base`` (None: unreadable); cached per file."""
        try:
            stat = base.stat()
        except OSError:
            return None
        key = (str(base), stat.st_size, stat.st_mtime_ns, self.settings.lora_rank)
        if self._estimate is None or self._estimate[0] != key:
            needed: int | None = None
            try:
                needed = lora_train.training_memory(
                    lora_train.read_shape(base), rank=self.settings.lora_rank,
                    tokens=lora_train.BATCH_SIZE * (SEQ_LEN + 1))
            except Exception as exc:  # a file transformers could not load either
                log.warning("cannot estimate the memory of LoRA training: %s",
                            type(exc).__name__)
            self._estimate = (key, needed)  # failures too: pending() is polled
        return self._estimate[1]

    def _memory_reason(self, base: Path) -> str | None:
        """Why a run cannot start now for lack of memory (checked again at each session)."""
        needed = self.needed_memory(base)
        if needed is None:
            return "cannot read the model file to tell how much memory training needs"
        try:
            available = self._free_memory()
        except Exception as exc:  # cannot tell: do not block on a sensor
            log.warning("cannot read the available memory: %s", type(exc).__name__)
            return None
        if available >= needed:
            return None
        return (f"not enough free memory to train on this model: needs about {_gb(needed)}, "
                f"{_gb(available)} available")

    def pending(self) -> bool:
        if self.waiting_reason() is not None:
            return False
        saved = self.state_store.get(STATE_KEY, {}) or {}
        return saved.get("phase") != "ready" or saved.get("base") != str(self._base())

    # --- training -------------------------------------------------------------------------------

    def _start(self, base: Path) -> lora_train.LoraRun:
        texts = user_texts(self.store)
        tokens, bos = tokenize(base, texts)
        held = max(1, int(len(tokens) * HELD_OUT_SHARE))
        train = lora_train.windows(tokens[:-held], SEQ_LEN, bos)
        self._held_out = lora_train.windows(tokens[-held:], SEQ_LEN, bos)
        run = lora_train.LoraRun(base, train, rank=self.settings.lora_rank,
                                 alpha=2 * self.settings.lora_rank,
                                 lr=self.settings.lora_learning_rate)
        saved = self.state_store.get(STATE_KEY, {}) or {}
        if self.blobs.exists(CHECKPOINT_BLOB) and saved.get("base") == str(base):
            run.restore(self.blobs.read(CHECKPOINT_BLOB))
        return run

    def step(self, state: TaskState) -> dict[str, Any]:
        base = self._base()
        if base is None:
            return {"waiting": "no model"}
        if self._session != id(state):
            self._session, self._session_started = id(state), self._clock()
        if self._run is None:
            short = self._memory_reason(base)  # memory may have gone since pending() said yes
            if short is not None:  # done for this idle session; the next one looks again
                return {"waiting": short, "session_budget_spent": True}
            self._run = self._start(base)
        run = self._run
        target = self.settings.lora_steps
        losses: list[float] = []
        while run.steps < target and len(losses) < STEPS_PER_CALL and not state.cancelled:
            losses.append(run.step())
            state.set_progress(run.steps, target, "training the personal model")
        self.blobs.write(CHECKPOINT_BLOB, run.checkpoint())  # resume here next time
        self.state_store.set(STATE_KEY, {"phase": "training", "base": str(base),
                                         "steps": run.steps, "target_steps": target})
        result: dict[str, Any] = {"steps": run.steps, "target_steps": target,
                                  "loss": round(float(np.mean(losses)), 4) if losses else None}
        if run.steps >= target:
            result.update(self._finish(base, run))
        spent = (self._clock() - self._session_started) / 60
        if spent >= self.settings.lora_budget_minutes and run.steps < target:
            result["session_budget_spent"] = True
        return result

    def _finish(self, base: Path, run: lora_train.LoraRun) -> dict[str, Any]:
        scratch = PrivateFile("adapter.gguf")
        try:
            write_adapter(run.lora_tensors(), scratch.path, run.alpha)
            data = scratch.read()
            ppl_base = perplexity(base, None, self._held_out)
            ppl_adapter = perplexity(base, scratch.path, self._held_out)
        finally:
            scratch.close()
        self.blobs.write(ADAPTER_BLOB, data)
        self.blobs.delete(CHECKPOINT_BLOB)
        summary = {"phase": "ready", "base": str(base), "steps": run.steps,
                   "target_steps": run.steps, "trained_at": time.time(),
                   "held_out_windows": len(self._held_out),
                   "perplexity_base": round(ppl_base, 4),
                   "perplexity_adapter": round(ppl_adapter, 4)}
        self.state_store.set(STATE_KEY, summary)
        self._run = None
        self.activate()
        return summary

    # --- the engine -----------------------------------------------------------------------------

    def activate(self) -> bool:
        """Attach the stored adapter to the engine (at unlock, after training)."""
        engine = self._engine()
        if engine is None or not self.settings.lora_enabled or not self.blobs.exists(ADAPTER_BLOB):
            return False
        attached = PrivateFile("familiar-adapter.gguf")
        attached.write(self.blobs.read(ADAPTER_BLOB))
        try:
            self._run_model(lambda: engine.load_lora(attached.path, self._scale(engine)))
        except BaseException:
            attached.close()
            raise
        previous, self._attached = self._attached, attached
        if previous is not None:
            previous.close()
        return True

    def _scale(self, engine: Any) -> float:
        return float(getattr(getattr(engine, "settings", None), "lora_scale", 1.0))

    def reset(self) -> None:
        """Back to the base model: detach, delete the adapter and any checkpoint."""
        engine = self._engine()
        if engine is not None:
            self._run_model(engine.unload_lora)
        for name in (ADAPTER_BLOB, CHECKPOINT_BLOB):
            if self.blobs.exists(name):
                self.blobs.delete(name)
        self.state_store.delete(STATE_KEY)
        self._run = None
        self.close()

    def close(self) -> None:
        if self._attached is not None:
            self._attached.close()
            self._attached = None
