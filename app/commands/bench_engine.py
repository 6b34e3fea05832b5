"""``familiar bench engine --model PATH``: the app's generation path against raw llama_cpp.

Prints app_tokens_per_s, raw_tokens_per_s, ratio and ttft_overhead_ms (same model, prompt,
seed and settings, one run; see app/core/engine/bench.py), plus the share of token time spent
in Python. With ``--pause-rounds N`` it also measures how long a cancel takes while llama.cpp
reads an extraction-sized prompt (the personalization worker's pause; see ``run_pause_bench``):
``pause_ms`` p50 and max. No profile is needed: the bench touches no personal data.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.commands.base import Cli


def register_bench(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    parser = bench_sub.add_parser("engine", parents=[common],
                                  help="app vs raw llama.cpp tokens/s and first-token latency")
    parser.add_argument("--model", required=True, type=Path, help="a GGUF model file")
    parser.add_argument("--max-tokens", type=int, default=128, help="tokens per run (128)")
    parser.add_argument("--rounds", type=int, default=5, help="measured runs per side (5)")
    parser.add_argument("--ctx", type=int, default=2048, help="context size (2048)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pause-rounds", type=int, default=0,
                        help="also time N cancels during an extraction prompt (0: skip)")
    parser.add_argument("--pause-only", action="store_true",
                        help="only the pause measurement (skip the app vs raw comparison)")
    parser.set_defaults(handler=cmd_bench_engine)


def cmd_bench_engine(cli: Cli) -> int:
    from app.core.engine.bench import run_bench
    from app.core.engine.gguf_check import require_model

    args = cli.args
    require_model(args.model)  # a clear error before llama.cpp sees a bad file
    progress = None if cli.json else cli.info
    rounds = (args.pause_rounds or 5) if args.pause_only else args.pause_rounds
    pause = _pause(args.model, rounds, args.ctx, progress)
    if pause is not None and args.pause_only:
        cli.emit({"pause": pause}, _pause_text(pause))
        return 0
    result = run_bench(args.model, max_tokens=args.max_tokens, rounds=args.rounds,
                       n_ctx=args.ctx, seed=args.seed, progress=progress)
    if pause is not None:
        result["pause"] = pause
    text = "\n".join([
        f"Model:        {result['model']} ({result['model_bytes'] / 2**20:.1f} MB, "
        f"{result['threads']} threads, {result['tokens_per_round']} tokens x "
        f"{result['rounds']} rounds)",
        f"App:          {result['app_tokens_per_s']:.1f} tokens/s, first token "
        f"{result['app_ttft_ms']:.1f} ms",
        f"Raw llama.cpp:{result['raw_tokens_per_s']:.1f} tokens/s, first token "
        f"{result['raw_ttft_ms']:.1f} ms",
        f"Ratio:        {result['ratio']:.3f} (app / raw), first-token overhead "
        f"{result['ttft_overhead_ms']:.2f} ms",
        f"Same output:  {result['same_output']}; Python share of token time "
        f"{result['python_share_of_token_time'] * 100:.1f}%",
    ])
    if pause is not None:
        text += "\n" + _pause_text(pause)
    cli.emit(result, text)
    return 0


def _pause(model: Path, rounds: int, n_ctx: int,
           progress: Any) -> dict[str, Any] | None:
    """The extractor's own prompt: a full batch of user messages of up to 1,500 characters."""
    if rounds <= 0:
        return None
    from app.core.config import PersonalizationSettings
    from app.core.engine.bench import run_pause_bench
    from app.core.personalization.extraction import (
        CANDIDATES_SCHEMA,
        MAX_MESSAGE_CHARS,
        extraction_messages,
    )

    batch = PersonalizationSettings().extraction_batch

    def build(n: int, chars: int) -> list[dict[str, str]]:
        return extraction_messages([
            (n * 100 + i, (f"Round {n}, note {i}: " + FILLER * 20)[:chars])
            for i in range(batch)])

    return run_pause_bench(model, build, CANDIDATES_SCHEMA, rounds=rounds, n_ctx=n_ctx,
                           chars=MAX_MESSAGE_CHARS, progress=progress)


FILLER = ("I moved to Porto in 2019 and work night shifts as a nurse; on weekends I cycle "
          "along the Douro with my sister Ana and cook vegetarian food. ")


def _pause_text(pause: dict[str, Any]) -> str:
    return (f"Pause:        p50 {pause['pause_ms_p50']} ms, max {pause['pause_ms_max']} ms "
            f"({pause['cancelled_mid_prompt']}/{pause['rounds']} cancels mid-prompt; "
            f"{pause['prompt_tokens']}-token prompt read in {pause['prompt_read_ms']:.0f} ms "
            "uncancelled)")
