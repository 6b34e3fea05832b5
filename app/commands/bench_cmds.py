"""``familiar bench ...``: speed and quality figures, measured the same way every time.

Each area adds its own bench in a module listed in BENCH_MODULES, with
``register_bench(bench_subparsers, common)``.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

BENCH_MODULES: tuple[str, ...] = ("app.commands.bench_retrieval", "app.commands.bench_engine",
                                  "app.commands.bench_index",
                                  "app.commands.bench_personalization",)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    bench = sub.add_parser("bench", parents=[common], help="measure speed and quality")
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register_bench(bench_sub, common)
