"""``familiar bench engine``: the app's streaming path against llama_cpp.Llama called directly.

Same model file, same prompt, seed and sampling settings, one process, one run: the raw side
streams ``Llama.create_chat_completion`` on the calling thread; the app side runs
``Engine.stream_chat`` as a job on an ``llm`` lane, as the assistant does. Rounds alternate
the order of the two sides and each round uses a fresh question (so both pay prompt
evaluation the same way); medians are reported. A separate instrumented run measures the
share of each token's wall time spent in Python rather than inside llama.cpp (where ctypes
releases the GIL): the evidence that the GIL is not the bottleneck.

``run_pause_bench`` measures how fast a cancelled call lets go while llama.cpp is still
reading a long prompt (the personalization worker's pause): each round starts a
``complete_json`` on an ``llm`` lane, cancels it at a different point of the prompt, and
times ``cancel()`` to the engine call's return.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as llama_lowlevel

from app.core import hardware
from app.core.config import EngineSettings
from app.core.engine.errors import OutputNotJson
from app.core.engine.llm import Engine, Message
from app.core.tasks import Cancelled, Lane, TaskState

SYSTEM = "You are a helpful assistant. Answer briefly and precisely."
QUESTION = "Round {n}: summarise why local language models protect privacy, in three points."


@dataclass
class Run:
    tokens: int
    ttft_s: float
    total_s: float
    text: str

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.total_s if self.total_s > 0 else 0.0


def _messages(n: int) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION.format(n=n)}]


def _timed(pieces: Iterator[str], started: float) -> tuple[list[str], float, float]:
    out: list[str] = []
    first = 0.0
    for piece in pieces:
        if not out:
            first = time.perf_counter() - started
        out.append(piece)
    return out, first, time.perf_counter() - started


def run_bench(model: Path, *, max_tokens: int = 128, rounds: int = 5, n_ctx: int = 2048,
              temperature: float = 0.7, top_p: float = 0.95, seed: int = 42,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure both sides and return the figures (see module docstring)."""
    threads = hardware.physical_cores()
    settings = EngineSettings(model_path=str(model), context_size=n_ctx, threads=threads,
                              gpu_layers=-1, temperature=temperature, top_p=top_p,
                              max_tokens=max_tokens, seed=seed, idle_unload_s=0)
    engine = Engine(settings)
    lane = Lane("llm")
    try:
        engine.load()
        raw = llama_cpp.Llama(model_path=str(model), n_ctx=engine.n_ctx,
                              n_batch=min(settings.batch_size, engine.n_ctx), n_threads=threads,
                              n_threads_batch=threads, n_gpu_layers=engine._gpu_layers(),
                              use_mmap=True, verbose=False)
        sampling: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p,
                    "seed": seed}

        def raw_side(n: int) -> Run:
            started = time.perf_counter()
            messages: Any = _messages(n)
            stream: Any = raw.create_chat_completion(messages, stream=True, **sampling)
            pieces = (c["choices"][0]["delta"].get("content") or "" for c in stream)
            out, first, total = _timed((p for p in pieces if p), started)
            return Run(0, first, total, "".join(out))

        def app_side(n: int) -> Run:
            def job(state: TaskState) -> tuple[list[str], float, float]:
                return _timed(engine.stream_chat(_messages(n), state=state, **sampling),
                              started)
            started = time.perf_counter()
            out, first, total = lane.submit("bench", job).result()
            return Run(engine.last_stats.completion_tokens, first, total, "".join(out))

        raw_side(0), app_side(0)  # warm-up: page in the weights, build samplers
        raw_runs: list[Run] = []
        app_runs: list[Run] = []
        for n in range(1, rounds + 1):
            if progress:
                progress(f"round {n}/{rounds}")
            pair = (raw_side, app_side) if n % 2 else (app_side, raw_side)
            for side in pair:
                run = side(n)
                (raw_runs if side is raw_side else app_runs).append(run)
        same_output = all(a.text == r.text for a, r in zip(app_runs, raw_runs, strict=True))
        for a, r in zip(app_runs, raw_runs, strict=True):
            # Same seed and settings give the same tokens; count them once, on the app side.
            r.tokens = a.tokens if a.text == r.text else len(
                raw.tokenize(r.text.encode("utf-8"), add_bos=False))
        python_share = _python_share(engine, lane, sampling)
        raw.close()
    finally:
        lane.shutdown()
        engine.close()

    app_tps = statistics.median(r.tokens_per_s for r in app_runs)
    raw_tps = statistics.median(r.tokens_per_s for r in raw_runs)
    app_ttft = statistics.median(r.ttft_s for r in app_runs)
    raw_ttft = statistics.median(r.ttft_s for r in raw_runs)
    return {
        "model": model.name,
        "model_bytes": model.stat().st_size,
        "n_ctx": settings.context_size,
        "threads": threads,
        "max_tokens": max_tokens,
        "rounds": rounds,
        "tokens_per_round": statistics.median(r.tokens for r in app_runs),
        "app_tokens_per_s": round(app_tps, 2),
        "raw_tokens_per_s": round(raw_tps, 2),
        "ratio": round(app_tps / raw_tps, 4) if raw_tps else 0.0,
        # Each round's app/raw pair ran back to back: their ratio cancels slow drifts in load.
        "ratio_paired_median": round(statistics.median(
            a.tokens_per_s / r.tokens_per_s for a, r in zip(app_runs, raw_runs, strict=True)
            if r.tokens_per_s), 4),
        "app_ttft_ms": round(app_ttft * 1000, 3),
        "raw_ttft_ms": round(raw_ttft * 1000, 3),
        "ttft_overhead_ms": round((app_ttft - raw_ttft) * 1000, 3),
        "same_output": same_output,
        "python_share_of_token_time": round(python_share, 4),
        "runs": {"app": [_brief(r) for r in app_runs], "raw": [_brief(r) for r in raw_runs]},
    }


def _brief(run: Run) -> dict[str, Any]:
    d = asdict(run)
    d.pop("text")
    d["tokens_per_s"] = round(run.tokens_per_s, 2)
    return d


def _python_share(engine: Engine, lane: Lane, sampling: dict[str, Any]) -> float:
    """Share of the app's generation wall time spent outside llama.cpp's decode and sample
    calls (which run with the GIL released)."""
    inside = [0.0]
    decode, sample = llama_lowlevel.llama_decode, llama_lowlevel.llama_sampler_sample

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                inside[0] += time.perf_counter() - t
        return wrapper

    llama_lowlevel.llama_decode = timed(decode)
    llama_lowlevel.llama_sampler_sample = timed(sample)
    try:
        def job(state: TaskState) -> float:
            started = time.perf_counter()
            for _ in engine.stream_chat(_messages(99), state=state, **sampling):
                pass
            return time.perf_counter() - started
        total = lane.submit("bench-python-share", job).result()
    finally:
        llama_lowlevel.llama_decode = decode
        llama_lowlevel.llama_sampler_sample = sample
    return max(0.0, 1.0 - inside[0] / total) if total > 0 else 0.0


class _Watched(TaskState):
    """Sets ``reading`` at the first look at the flag: llama.cpp's first abort check."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()

    @property
    def cancelled(self) -> bool:
        self.reading.set()
        return super().cancelled


def run_pause_bench(model: Path, build: Callable[[int, int], Sequence[Message]],
                    schema: Mapping[str, Any], *, rounds: int = 5, n_ctx: int = 2048,
                    chars: int = 1500, progress: Callable[[str], None] | None = None,
                    ) -> dict[str, Any]:
    """``build(round, chars)`` gives a round's messages with each text cut to ``chars``
    (rounds differ, so no cached prefix beyond the system prompt); ``chars`` shrinks until
    the prompt fits ``n_ctx``. Round ``i`` cancels at ``(i + 0.5) / rounds`` of the time one
    uncancelled read of the prompt takes (``prompt_read_ms``, measured first)."""
    settings = EngineSettings(model_path=str(model), context_size=n_ctx, gpu_layers=-1,
                              idle_unload_s=0, seed=42)
    engine = Engine(settings)
    lane = Lane("llm")
    try:
        budget = engine.n_ctx - 64
        tokens = len(engine.prompt_tokens(build(0, chars)))
        while tokens > budget and chars > 1:
            chars = max(1, int(chars * budget / tokens * 0.95))
            tokens = len(engine.prompt_tokens(build(0, chars)))

        def read_once(state: TaskState) -> float:
            started = time.perf_counter()
            for _ in engine.stream_chat(build(0, chars), max_tokens=1, state=state):
                pass
            return time.perf_counter() - started

        read_s = lane.submit("bench-prompt-read", read_once).result()
        pauses: list[float] = []
        mid_prompt = 0
        for n in range(rounds):
            if progress:
                progress(f"pause round {n + 1}/{rounds}")
            pause, stats = _pause_round(engine, lane, build(n + 1, chars), schema,
                                        read_s * (n + 0.5) / rounds)
            if stats.finish_reason == "cancelled":  # not finished before the cancel came
                pauses.append(pause)
                mid_prompt += stats.prompt_tokens_read < stats.prompt_tokens
    finally:
        lane.shutdown()
        engine.close()
    return {
        "model": model.name,
        "n_ctx": settings.context_size,
        "batch_size": settings.batch_size,
        "rounds": rounds,
        "prompt_tokens": tokens,
        "chars_per_message": chars,
        "prompt_read_ms": round(read_s * 1000, 1),
        "pause_ms_p50": round(statistics.median(pauses) * 1000, 2) if pauses else None,
        "pause_ms_max": round(max(pauses) * 1000, 2) if pauses else None,
        "cancelled": len(pauses),
        "cancelled_mid_prompt": mid_prompt,
        "pauses_ms": [round(p * 1000, 2) for p in pauses],
    }


def _pause_round(engine: Engine, lane: Lane, messages: Sequence[Message],
                 schema: Mapping[str, Any], delay_s: float) -> tuple[float, Any]:
    state = _Watched()
    returned = [0.0]

    def job(_st: TaskState) -> None:
        try:
            engine.complete_json(messages, schema, max_tokens=2048, temperature=0.0,
                                 state=state)  # as the extractor calls it
        except (Cancelled, OutputNotJson):
            pass
        finally:
            returned[0] = time.perf_counter()

    handle = lane.submit("bench-pause", job)
    state.reading.wait(600)
    time.sleep(delay_s)  # a bench, not a test: land the cancel part-way through the prompt
    cancelled_at = time.perf_counter()
    state.cancel()
    handle.result()
    return returned[0] - cancelled_at, engine.last_stats
