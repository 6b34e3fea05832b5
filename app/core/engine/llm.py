"""The local inference engine: one GGUF model in llama.cpp, streamed, cancellable, fitted.

Threads: every method that touches llama.cpp (``load``, ``stream_chat``, ``complete_json``,
``count_tokens``, ``fit_context``, ``load_lora``/``unload_lora``, ``unload``) must run on the
``llm`` lane (one worker), or synchronously in the CLI; an internal lock makes a stray call
wait rather than corrupt state. ``TaskState.cancel`` may be called from any thread: it stops
generation within one token and the reading of a long prompt within one graph node
(``abort.py``); either way the call ends as cancelled and the engine is ready for the next
one. The model loads lazily on first use and is unloaded after
``idle_unload_s`` without use (through the lane when one is given); the next call reloads it
and re-applies the LoRA adapter. The GIL is released inside llama.cpp (ctypes), so Python
only pays per-token bookkeeping; ``familiar bench engine`` measures that share.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import LlamaGrammar

from app.core import hardware
from app.core.config import EngineSettings
from app.core.engine import context_fit, lora, sizing
from app.core.engine.abort import prompt_abort
from app.core.engine.chat_format import ChatFormat, chat_format_for
from app.core.engine.errors import ContextTooSmall, InvalidModel, NoModel, OutputNotJson
from app.core.engine.gguf_check import GgufInfo, require_model
from app.core.engine.idle import IdleUnloader
from app.core.tasks import Lane, TaskState

log = logging.getLogger(__name__)

Message = Mapping[str, str]


@dataclass
class GenerationStats:
    """Figures of the last generation (no text: safe to log)."""

    prompt_tokens: int = 0
    prompt_tokens_read: int = 0  # in the context when it ended: all, unless cancelled reading
    abort_checks: int = 0  # times llama.cpp asked whether to stop while reading the prompt
    completion_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0
    finish_reason: str = ""  # "stop" | "length" | "cancelled"


class Engine:
    """llama.cpp behind the interface the assistant and personalization use (EngineProtocol)."""

    def __init__(self, settings: EngineSettings, *, model_path: Path | str | None = None,
                 lane: Lane | None = None, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        path = model_path if model_path is not None else settings.model_path
        self._model_path = Path(path) if path else None
        self._lane = lane
        self._lock = threading.RLock()
        self._llm: llama_cpp.Llama | None = None
        self._info: GgufInfo | None = None
        self._format: ChatFormat | None = None
        self._adapter: lora.Adapter | None = None
        self._busy = 0
        self._closed = False
        self._grammars: dict[str, LlamaGrammar] = {}
        self.last_stats = GenerationStats()
        self.loads = 0
        self.unloaded = threading.Event()  # set while no model is in memory
        self.unloaded.set()
        self._idle = IdleUnloader(settings.idle_unload_s, self._request_idle_unload, clock)
        self._clock = clock

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def model_path(self) -> Path | None:
        return self._model_path

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def info(self) -> GgufInfo:
        with self._lock:
            self._ensure_loaded()
            assert self._info is not None
            return self._info

    @property
    def n_ctx(self) -> int:
        with self._lock:
            return int(self._ensure_loaded().n_ctx())

    @property
    def chat_format_name(self) -> str:
        with self._lock:
            self._ensure_loaded()
            assert self._format is not None
            return self._format.name

    def load(self) -> None:
        """Load the model now (otherwise the first request does). llm lane."""
        with self._lock:
            self._ensure_loaded()
            self._idle.touch()

    def _ensure_loaded(self) -> llama_cpp.Llama:
        if self._closed:
            raise InvalidModel("the engine was closed; unlock the profile again")
        if self._llm is not None:
            return self._llm
        if self._model_path is None:
            raise NoModel()
        info = require_model(self._model_path)
        n_ctx = self._context_size(info)
        machine = sizing.Machine.from_facts(hardware.facts(self._model_path.parent))
        meta = info.metadata
        arch = info.architecture
        n_layer = _int(meta.get(f"{arch}.block_count"))
        n_embd = _int(meta.get(f"{arch}.embedding_length"))
        n_head = _int(meta.get(f"{arch}.attention.head_count"))
        n_head_kv = _int(meta.get(f"{arch}.attention.head_count_kv")) or n_head
        kv_width = n_embd * n_head_kv // n_head if n_embd and n_head and n_head_kv else None
        sizing.check_fits(info.name, sizing.estimate_ram_bytes(
            info.size_bytes, n_ctx, n_layer, kv_width), machine)
        threads = self.settings.threads or hardware.physical_cores()
        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(self._model_path),
                n_ctx=n_ctx,
                n_batch=min(self.settings.batch_size, n_ctx),
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=self._gpu_layers(),
                use_mmap=self.settings.use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise InvalidModel(
                f"llama.cpp could not load '{self._model_path.name}' ({type(exc).__name__}); "
                "the file may be damaged or made for a newer llama.cpp: download it again"
            ) from exc
        self._llm = llm
        self._info = info
        self.unloaded.clear()
        eos, bos = llm.token_eos(), llm.token_bos()
        self._format = chat_format_for(
            info.chat_template,
            bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
            eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
        )
        self.loads += 1
        log.info("model loaded in %.2fs (n_ctx=%d, threads=%d, format=%s)",
                 time.perf_counter() - started, n_ctx, threads, self._format.name)
        if self._adapter is not None:
            self._adapter = lora.attach(llm, self._adapter.path, self._adapter.scale)
        return llm

    def _context_size(self, info: GgufInfo) -> int:
        wanted = self.settings.context_size or info.context_length or 4096
        return min(wanted, info.context_length) if info.context_length else wanted

    def _gpu_layers(self) -> int:
        if self.settings.gpu_layers >= 0:
            return self.settings.gpu_layers
        return -1 if hardware.gpu_offload() else 0

    def unload(self) -> None:
        """Free the model's memory now; the next request reloads it. llm lane."""
        with self._lock:
            self._free()

    def _free(self) -> None:
        llm, self._llm = self._llm, None
        self._grammars.clear()
        if llm is not None:
            if self._adapter is not None:
                self._adapter = lora.forget_handle(self._adapter)
            llm.close()
            log.info("model unloaded")
        self.unloaded.set()

    def unload_if_idle(self) -> bool:
        """Unload when idle for ``idle_unload_s`` and not generating. True when it unloaded."""
        with self._lock:
            if self._llm is None or self._busy:
                return False
            if self._clock() - self._idle.last_used < self.settings.idle_unload_s:
                return False
            self._free()
            return True

    def _request_idle_unload(self) -> None:
        if self._lane is not None:
            try:
                self._lane.submit("engine-idle-unload", lambda _state: self.unload_if_idle())
            except RuntimeError:
                pass  # the lane is shut down: close() frees the model
        else:
            self.unload_if_idle()

    def close(self) -> None:
        self._idle.stop()
        with self._lock:
            self._free()
            self._closed = True

    @contextmanager
    def _using(self) -> Iterator[llama_cpp.Llama]:
        with self._lock:
            llm = self._ensure_loaded()
            self._busy += 1
            try:
                yield llm
            finally:
                self._busy -= 1
                self._idle.touch()

    # --- tokens and context ---------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` alone (no BOS, special tokens parsed). llm lane."""
        with self._using() as llm:
            return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The exact tokens the model sees for ``messages``. llm lane."""
        with self._using() as llm:
            assert self._format is not None
            prompt = self._format.render(messages)
            return list(llm.tokenize(prompt.encode("utf-8"), add_bos=self._format.template
                                     is None, special=True))

    def fit_context(self, system: str, history: Sequence[Message], passages: Sequence[str],
                    question: str, *, reserve_tokens: int | None = None,
                    layout: context_fit.Layout = context_fit.default_layout,
                    ) -> context_fit.FitResult:
        """Fit into the window, leaving ``reserve_tokens`` (default: max_tokens) for the
        answer; see ``context_fit`` for the policy. llm lane."""
        reserve = self.settings.max_tokens if reserve_tokens is None else reserve_tokens
        budget = self.n_ctx - reserve
        if budget <= 0:
            raise ContextTooSmall(
                f"the model's window ({self.n_ctx} tokens) leaves no room after reserving "
                f"{reserve} for the answer; lower max tokens or raise the context size")
        return context_fit.fit(system, history, passages, question, budget=budget,
                               count=lambda msgs: len(self.prompt_tokens(msgs)),
                               layout=layout)

    # --- generation -----------------------------------------------------------------------------

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
        state: TaskState | None = None,
    ) -> Iterator[str]:
        """Yield the answer as text pieces. Cancel with ``state.cancel()`` from any thread:
        generation stops within one token, prompt reading within one graph node; the
        generator then ends normally with ``last_stats.finish_reason == "cancelled"``."""
        cancellable = state
        state = state if state is not None else TaskState()
        with self._using() as llm, prompt_abort(llm, cancellable) as abort:
            tokens = self.prompt_tokens(messages)
            kwargs = self._sampling(llm, tokens, max_tokens, temperature, top_p, seed, stop)
            stats = GenerationStats(prompt_tokens=len(tokens))
            self.last_stats = stats
            pieces: list[str] = []
            started = time.perf_counter()

            # llama-cpp-python calls the criterion once per sampled token and once more after
            # its loop ends; count calls, minus refusals and that final call. The first call
            # means the prompt is read: from then on tokens are checked here, not per node.
            calls = [0, 0]

            def cancelled(ids: Any, logits: Any) -> bool:
                abort.disarm()
                calls[0] += 1
                if state.cancelled:
                    calls[1] += 1
                    return True
                return False

            chunks: Any = llm.create_completion(
                tokens, stream=True,
                stopping_criteria=llama_cpp.StoppingCriteriaList([cancelled]), **kwargs)
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice["text"]
                    if choice.get("finish_reason"):
                        stats.finish_reason = str(choice["finish_reason"])
                    if text:
                        if not pieces:
                            stats.ttft_s = time.perf_counter() - started
                        pieces.append(text)
                        yield text
                    if state.cancelled:
                        break
            except RuntimeError:
                if not abort.fired:
                    raise
                # llama_decode was aborted mid-prompt: a cancel, reported as one below.
            finally:
                chunks.close()
                stats.total_s = time.perf_counter() - started
                final_call = 1 if stats.finish_reason and not calls[1] else 0
                stats.completion_tokens = calls[0] - calls[1] - final_call
                stats.prompt_tokens_read = _tokens_read(llm, tokens, abort.fired)
                stats.abort_checks = abort.checks
                if state.cancelled:
                    stats.finish_reason = "cancelled"
                state.partial_result = "".join(pieces)

    def complete_json(self, messages: Sequence[Message], schema: Mapping[str, Any], *,
                      max_tokens: int = 512, temperature: float = 0.0, seed: int | None = None,
                      state: TaskState | None = None) -> Any:
        """Generate a JSON value that follows ``schema`` (a llama.cpp grammar built from it)
        and return it parsed. Raises OutputNotJson when cut off by ``max_tokens`` and
        ``Cancelled`` when ``state`` was cancelled (while reading the prompt or generating).
        llm lane."""
        cancellable = state
        state = state if state is not None else TaskState()
        key = json.dumps(schema, sort_keys=True)
        with self._using() as llm, prompt_abort(llm, cancellable) as abort:
            grammar = self._grammars.get(key)
            if grammar is None:
                grammar = LlamaGrammar.from_json_schema(key, verbose=False)
                self._grammars[key] = grammar
            tokens = self.prompt_tokens(messages)
            kwargs = self._sampling(llm, tokens, max_tokens, temperature, None, seed, ())
            stats = GenerationStats(prompt_tokens=len(tokens))
            self.last_stats = stats
            started = time.perf_counter()

            def cancelled(ids: Any, logits: Any) -> bool:
                abort.disarm()  # the prompt is read (see stream_chat)
                return state.cancelled

            result: Any = None
            try:
                result = llm.create_completion(
                    tokens, grammar=grammar,
                    stopping_criteria=llama_cpp.StoppingCriteriaList([cancelled]), **kwargs)
            except RuntimeError:
                if not abort.fired:
                    raise
            finally:
                stats.total_s = time.perf_counter() - started
                stats.prompt_tokens_read = _tokens_read(llm, tokens, abort.fired)
                stats.abort_checks = abort.checks
                if result is not None:
                    stats.completion_tokens = int(result["usage"]["completion_tokens"])
                    stats.finish_reason = str(result["choices"][0].get("finish_reason") or "")
                if state.cancelled:
                    stats.finish_reason = "cancelled"
            state.raise_if_cancelled()
            choice = result["choices"][0]
            text = str(choice["text"])
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise OutputNotJson(
                f"the model stopped ({choice.get('finish_reason')}) before its JSON answer was "
                f"complete after {len(text)} characters; allow more tokens or use a larger "
                "model") from None

    def _sampling(self, llm: llama_cpp.Llama, tokens: list[int], max_tokens: int | None,
                  temperature: float | None, top_p: float | None, seed: int | None,
                  stop: Sequence[str]) -> dict[str, Any]:
        assert self._format is not None
        room = llm.n_ctx() - len(tokens)
        if room <= 0:
            raise ContextTooSmall(
                f"the prompt is {len(tokens)} tokens, as large as the model's window "
                f"({llm.n_ctx()}); start a new conversation or fit the context first")
        wanted = max_tokens if max_tokens is not None else self.settings.max_tokens
        seed = seed if seed is not None else self.settings.seed
        return {
            "max_tokens": max(1, min(wanted, room)),
            "temperature": self.settings.temperature if temperature is None else temperature,
            "top_p": self.settings.top_p if top_p is None else top_p,
            "seed": seed if seed >= 0 else random.randrange(2**31),
            "stop": list(self._format.stop) + list(stop),
        }

    # --- LoRA -----------------------------------------------------------------------------------

    @property
    def lora_path(self) -> Path | None:
        return self._adapter.path if self._adapter is not None else None

    def load_lora(self, path: Path | str, scale: float = 1.0) -> None:
        """Apply a LoRA adapter GGUF on top of the model (replacing any other). llm lane."""
        with self._using() as llm:
            assert self._info is not None
            lora.check_adapter(Path(path), self._info)
            if self._adapter is not None:
                lora.detach(llm, self._adapter)
                self._adapter = None
            self._adapter = lora.attach(llm, Path(path), scale)

    def unload_lora(self) -> None:
        """Run the plain model again. llm lane."""
        with self._lock:
            adapter, self._adapter = self._adapter, None
            if adapter is not None and self._llm is not None:
                lora.detach(self._llm, adapter)


def _tokens_read(llm: llama_cpp.Llama, tokens: list[int], aborted: bool) -> int:
    """Prompt tokens in the context when the call ended (only whole ``n_batch`` chunks count
    after an abort; read before ``prompt_abort`` resets the context)."""
    return min(int(llm.n_tokens), len(tokens)) if aborted else len(tokens)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None
