"""``familiar bench engine --model PATH``: the app's generation path against raw llama_cpp.

Prints app_tokens_per_s, raw_tokens_per_s, ratio and ttft_overhead_ms (same model, prompt,
seed and settings, one run; see app/core/engine/bench.py), plus the share of token time spent
in Python. No profile is needed: the bench touches no personal data.
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
    parser.set_defaults(handler=cmd_bench_engine)


def cmd_bench_engine(cli: Cli) -> int:
    from app.core.engine.bench import run_bench
    from app.core.engine.gguf_check import require_model

    args = cli.args
    require_model(args.model)  # a clear error before llama.cpp sees a bad file
    result = run_bench(args.model, max_tokens=args.max_tokens, rounds=args.rounds,
                       n_ctx=args.ctx, seed=args.seed,
                       progress=None if cli.json else cli.info)
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
    cli.emit(result, text)
    return 0
